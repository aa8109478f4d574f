"""The real data beside the repository, in ``../shared/data`` (its REAL_DATA.md says what
each file is): the paths, and the skip that says why a test cannot run where it is absent."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GOOGL = SHARED / "dbeq-basic-20240403-googl.mbo.dbn.zst"
"""Databento MBO of GOOGL on three venues at the 2024-04-03 open."""


def shared(path: Path) -> Path:
    """Return ``path``, or skip the test, saying so, where the shared data is absent."""
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared real data is not on this machine")
    return path


def amzn_day(folder: Path, levels: int = 5) -> Path:
    """Unzip LOBSTER's AMZN day (``levels`` 1 or 5) into ``folder``; return its message file
    (the orderbook file beside it), or skip where the archive is absent."""
    archive = shared(SHARED / "lobster" / f"LOBSTER_SampleFile_AMZN_2012-06-21_{levels}.zip")
    with zipfile.ZipFile(archive) as handle:
        handle.extractall(folder)
    return next(folder.glob(f"*_message_{levels}.csv"))
