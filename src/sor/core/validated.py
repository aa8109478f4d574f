"""The one base of every pydantic model that checks what a user wrote: the settings (flags,
``SOR_`` variables, the TOML file) and ``sor place``'s problem files."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Validated(BaseModel):
    """A frozen model that refuses unknown keys, NaN and infinities, and values of another
    type (``"5000"`` for an integer, ``1.5`` for a count): strict, so that a typo is an error
    rather than a silent conversion. A field that takes a list written as a TOML array for
    a tuple says so (``Field(strict=False)``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
