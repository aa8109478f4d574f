"""``sor place``: solve one Cont-Kukanov placement problem, and the paper's section 5.1 study.

A problem file is JSON::

    {
      "order_size": 1000,            # S, shares
      "half_spread": 0.02,           # h, $/share
      "fee": 0.003,                  # f, taker fee, $/share
      "theta": 0.0005,               # market impact, $/share sent
      "lambda_under": 0.05,          # penalty per share short of S, $/share
      "lambda_over": 0.05,           # penalty per share beyond S, $/share
      "venues": [{"queue": 2000, "rebate": 0.002}, {"queue": 1500, "rebate": 0.001}],
      "outflow": {"model": "poisson_factor", "mean": 2200, "common_weight": 0.6},
      "samples": 1000,               # outflow samples drawn (poisson_factor only)
      "seed": 7
    }

``outflow`` is either the Poisson factor model (``xi_k = a xi_0 + (1 - a) eps_k``, ``xi_0`` and
``eps_k`` i.i.d. Poisson with mean ``m``, rounded to whole shares) or explicit samples,
``{"samples": [[xi_1, ..., xi_K], ...]}`` in shares, one row per horizon. An optional
``sa_passes`` (default 1, the paper's algorithm) runs the stochastic approximation over the
samples that many times.

Every figure has a range (:data:`MAX_SHARES` shares, :data:`MAX_DOLLARS` dollars per share, at
most :data:`MAX_VENUES` venues) and the work is bounded before any sample is drawn
(:data:`MAX_OUTFLOW_VALUES` outflow values, :data:`MAX_SA_STEPS` steps of the stochastic
approximation, a file of at most :data:`MAX_PROBLEM_BYTES`): inside them every figure of the
answer is a finite number, and outside them the problem is refused with one line naming the
field and its range.

The answer: the whole-share allocation and, for it and the paper's three simple allocations,
the average cost over the samples in cents per share of the order, measured from the mid:

- ``market_only``: ``X_M = (S, 0, ..., 0)``, the whole order as a marketable order;
- ``single_limit``: ``X_L = (0, S, 0, ..., 0)``, the whole order as one limit order at the
  first venue of ``venues``;
- ``equal_split``: ``X_E``, ``S/(K+1)`` shares to the market order and to each venue's limit
  order (whole shares: the first ``S mod (K+1)`` of ``M, L_1, ..., L_K`` one share more);
- ``optimal``: Proposition 3's closed form for one venue; for several, the robust stochastic
  approximation (section 4) followed by an exact descent of the sample-average cost over
  whole shares (:func:`sor.ck.polish.polish`). As a safeguard, if one of the three
  allocations above costs less on the same samples, it is returned instead and named in
  ``solver.fallback``.

``breakdown`` splits the optimal allocation's cost as the paper's second table does: ``fees``
(spread, fees and rebates), ``impact`` (theta terms) and ``penalties`` (lambda terms), cents
per share, adding up to its cost; ``underfill_shares`` and ``overfill_shares``, the average
shortfall ``(S - A)+`` and excess ``(A - S)+``; ``p_underfill`` and ``p_overfill``, the
shares of samples with ``A < S`` and ``A > S``, in ``[0, 1]``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import BaseModel, Field, ValidationError
from pydantic.fields import FieldInfo

from sor.ck.model import (
    CKParams,
    CostBreakdown,
    FloatArray,
    cost_breakdown,
    poisson_factor_outflows,
)
from sor.ck.solver import solve
from sor.core.defaults import DEFAULT_SAMPLES
from sor.core.domain import MAX_ORDER_SIZE
from sor.core.errors import ConfigError, SorError
from sor.core.validated import Validated

MAX_SHARES = MAX_ORDER_SIZE
"""Most shares in ``order_size``, a queue, an outflow or the outflow mean: 10^12, the largest
order of a backtest; every sum of shares the solver forms stays a whole number in a float and
in an int64."""
MAX_DOLLARS = 1_000_000.0
"""Largest size of a money figure, $/share (``fee`` and ``rebate`` may be negative): with
:data:`MAX_SHARES` every cost stays far inside the range of a float."""
MAX_VENUES = 50
"""Most venues: the starts cost ``K + 3`` allocations over every sample and each step of the
stochastic approximation sorts the ``K`` limits, so the work grows as ``K^2``."""
MAX_OUTFLOW_VALUES = 5_000_000
"""Most outflow values, samples x venues: 40 MB per copy, about 500 MB at the peak of a run
(the paper study's 1,000,000 samples at five venues fit)."""
MAX_SA_STEPS = 20_000_000
"""Most venue steps of the stochastic approximation, samples x sa_passes x venues."""
MAX_PASSES = 10_000
MAX_SEED = 2**63 - 1
MAX_PROBLEM_BYTES = 8 * 2**20
"""Largest problem file read, bytes (8 MiB): decoded and validated, JSON takes up to some 80
times its size."""
MAX_REPORTED = 3
"""Problems of one file listed in its error line; the rest are counted."""
_OUT_OF_RANGE = 10**30
"""Stands for an integer too long to convert (thousands of digits): beyond every range."""
STRATEGIES = ("optimal", "market_only", "single_limit", "equal_split")


class VenueSpec(Validated):
    """One venue: the shares queued ahead at its best bid and its effective rebate."""

    queue: int = Field(ge=0, le=MAX_SHARES, description="Q_k, shares ahead of a new limit buy.")
    rebate: float = Field(
        ge=-MAX_DOLLARS,
        le=MAX_DOLLARS,
        description="r_k, effective rebate of a filled limit buy, $/share.",
    )


class PoissonFactorSpec(Validated):
    """Outflows ``xi_k = a xi_0 + (1 - a) eps_k`` with i.i.d. Poisson(m) ``xi_0``, ``eps_k``."""

    model: Literal["poisson_factor"]
    mean: float = Field(gt=0, le=MAX_SHARES, description="m, mean outflow per horizon, shares.")
    common_weight: float = Field(ge=0, le=1, description="a, weight of the common factor.")


class SampleSpec(Validated):
    """Explicit outflow samples, shares, one row of K values per horizon."""

    # fail_fast: a file of a million bad values is one error, not a million (and gigabytes)
    samples: list[
        Annotated[list[Annotated[float, Field(ge=0, le=MAX_SHARES)]], Field(fail_fast=True)]
    ] = Field(min_length=1, fail_fast=True)


class ProblemSpec(Validated):
    """The problem file as written (validated field by field)."""

    order_size: int = Field(gt=0, le=MAX_SHARES)
    half_spread: float = Field(ge=0, le=MAX_DOLLARS)
    fee: float = Field(ge=-MAX_DOLLARS, le=MAX_DOLLARS)
    theta: float = Field(ge=0, le=MAX_DOLLARS)
    lambda_under: float = Field(ge=0, le=MAX_DOLLARS)
    lambda_over: float = Field(ge=0, le=MAX_DOLLARS)
    venues: list[VenueSpec] = Field(min_length=1, max_length=MAX_VENUES)
    outflow: dict[str, Any]
    samples: int | None = Field(default=None, gt=0, le=MAX_OUTFLOW_VALUES)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    sa_passes: int = Field(default=1, ge=1, le=MAX_PASSES)


@dataclass(frozen=True)
class Problem:
    """A validated placement problem with its outflow samples drawn.

    Attributes
    ----------
    params : CKParams
        The decision's parameters.
    outflows : ndarray
        Outflow samples, shares, shape ``(N, K)``.
    seed : int
        Seed of the Poisson draws (recorded for explicit samples too).
    model : str
        ``"poisson_factor"`` or ``"samples"``.
    sa_passes : int
        Passes of the stochastic approximation over the samples.
    """

    params: CKParams
    outflows: FloatArray
    seed: int
    model: str
    sa_passes: int = 1


def breakdown_cents(breakdown: CostBreakdown, order_size: int) -> dict[str, float]:
    """Return a breakdown in the units of ``sor place``: cents per share, shares, ``[0, 1]``."""
    to_cents = 100.0 / order_size
    return {
        "fees": breakdown.fees * to_cents,
        "impact": breakdown.impact * to_cents,
        "penalties": breakdown.penalties * to_cents,
        "underfill_shares": breakdown.underfill_shares,
        "overfill_shares": breakdown.overfill_shares,
        "p_underfill": breakdown.p_underfill,
        "p_overfill": breakdown.p_overfill,
    }


@dataclass(frozen=True)
class PlaceResult:
    """The allocation and the cost of each strategy, cents per share from the mid."""

    allocations: dict[str, tuple[int, ...]]  # (M, L_1, ..., L_K) of each strategy
    costs: dict[str, float]
    method: str
    fallback: str | None
    samples: int
    seed: int
    breakdown: dict[str, float]  # of the optimal allocation, see breakdown_cents
    polish_steps: int
    method_cost: float  # cents per share of the method's rounded answer, before the polish

    @property
    def market(self) -> int:
        """``M`` of the answer (``optimal``), shares."""
        return self.allocations["optimal"][0]

    @property
    def limits(self) -> tuple[int, ...]:
        """``L_1, ..., L_K`` of the answer, shares."""
        return self.allocations["optimal"][1:]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form printed by ``sor place``."""
        return {
            "allocation": {"market": self.market, "limits": list(self.limits)},
            "cost_cents_per_share": {name: round(self.costs[name], 6) for name in STRATEGIES},
            "breakdown": {name: round(value, 6) for name, value in self.breakdown.items()},
            "allocations": {
                name: {"market": x[0], "limits": list(x[1:])}
                for name, x in self.allocations.items()
            },
            "solver": {
                "method": self.method,
                "fallback": self.fallback,
                "samples": self.samples,
                "seed": self.seed,
                "polish_steps": self.polish_steps,
                "method_cost_cents_per_share": round(self.method_cost, 6),
            },
        }


def _key(name: object) -> str:
    """Write a key as is if it is a plain name, else quoted and escaped: one line, ASCII."""
    text = str(name)
    return text if text.isidentifier() and text.isascii() else json.dumps(text)


def _where(loc: Sequence[int | str], prefix: str = "") -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{_key(part)}" if text else _key(part)
    return text or "problem"


def _number(value: float) -> str:
    """Write a bound as a user types it: ``1,000,000`` for a whole one, else ``0.5``."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:g}"


def _constraints(metadata: Sequence[object]) -> list[object]:
    """Return a field's constraints (``Ge``, ``Le``, ``MinLen``...), those of nested ``Field``s
    included."""
    out: list[object] = []
    for item in metadata:
        out += _constraints(item.metadata) if isinstance(item, FieldInfo) else [item]
    return out


def _allowed(model: type[BaseModel], loc: Sequence[int | str]) -> str:
    """Return `` (allowed: ...)``, the range of the value at ``loc`` of ``model``, or ``""``."""
    annotation: object = model
    metadata: list[object] = []
    for part in loc:
        if isinstance(part, str):
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return ""
            field = annotation.model_fields.get(part)
            if field is None:
                return ""
            annotation, metadata = field.annotation, _constraints(field.metadata)
        else:  # an item of a list
            if get_origin(annotation) is not list:
                return ""
            annotation, metadata = get_args(annotation)[0], []
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            metadata = _constraints(extra)
        if get_origin(annotation) in (Union, UnionType):  # an optional field
            annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
    name = loc[-1] if loc and isinstance(loc[-1], str) else "value"  # else an item of a list
    lower = upper = ""
    shortest = longest = None
    for item in metadata:
        for key, text in (("gt", "{} < "), ("ge", "{} <= ")):
            value = getattr(item, key, None)
            lower = text.format(_number(value)) if value is not None else lower
        for key, text in (("lt", " < {}"), ("le", " <= {}")):
            value = getattr(item, key, None)
            upper = text.format(_number(value)) if value is not None else upper
        shortest = getattr(item, "min_length", shortest)
        longest = getattr(item, "max_length", longest)
    if shortest is not None or longest is not None:
        most = f" to {longest:,}" if longest is not None else " or more"
        return f" (allowed: {shortest or 0}{most} items)"
    if not lower and not upper:
        return ""
    kind = "a whole number, " if annotation is int else ""
    return f" (allowed: {kind}{lower}{name}{upper})"


def _config_error(
    exc: ValidationError, source: str, model: type[BaseModel], prefix: str = ""
) -> ConfigError:
    errors = exc.errors(include_url=False, include_input=False)
    problems = [
        f"{_where(err['loc'], prefix)}: {err['msg']}{_allowed(model, err['loc'])}"
        for err in errors[:MAX_REPORTED]
    ]
    if len(errors) > MAX_REPORTED:
        problems.append(f"and {len(errors) - MAX_REPORTED} more")
    return ConfigError(f"{source}: {'; '.join(problems)}")


def _refuse_unknown(data: object, model: type[Validated], source: str, where: str) -> None:
    """Refuse keys ``model`` does not have, counted here: pydantic would report each one."""
    if not isinstance(data, dict):
        return
    unknown = [key for key in data if key not in model.model_fields]
    if unknown:
        problems = [
            f"{_where([key], where)}: Extra inputs are not permitted"
            for key in unknown[:MAX_REPORTED]
        ]
        if len(unknown) > MAX_REPORTED:
            problems.append(f"and {len(unknown) - MAX_REPORTED:,} more")
        raise ConfigError(
            f"{source}: {'; '.join(problems)} (the fields are {', '.join(model.model_fields)})"
        )


def _validate(model: type[Validated], data: object, source: str, prefix: str = "") -> Any:
    _refuse_unknown(data, model, source, prefix)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, source, model, prefix) from exc


def _check_work(source: str, samples: int, venues: int, passes: int, count: str) -> None:
    """Refuse a problem whose outflow values or steps exceed the caps, before any is drawn.

    ``count`` names what sets the number of samples: ``samples`` or the rows of
    ``outflow.samples``.
    """
    values = samples * venues
    if values > MAX_OUTFLOW_VALUES:
        raise ConfigError(
            f"{source}: samples x venues = {samples:,} x {venues:,} = {values:,} outflow "
            f"values, above the cap of {MAX_OUTFLOW_VALUES:,}: lower {count} or give fewer "
            "venues"
        )
    steps = values * passes
    if steps > MAX_SA_STEPS:
        raise ConfigError(
            f"{source}: samples x sa_passes x venues = {samples:,} x {passes:,} x {venues:,} = "
            f"{steps:,} steps, above the cap of {MAX_SA_STEPS:,}: lower sa_passes or {count}"
        )


def parse_problem(data: object, source: str = "problem") -> Problem:
    """Validate a problem (the parsed JSON) and draw its outflow samples.

    Every field is checked against its range, and the work (samples x venues outflow values,
    samples x sa_passes x venues steps) against its cap, before any sample is drawn.

    Parameters
    ----------
    data : object
        The decoded JSON document.
    source : str
        Name used in error messages (the file name).

    Raises
    ------
    ConfigError
        On a missing, unknown or invalid field (the message names the field and its range),
        or work beyond a cap (the message says the cap and what to lower).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object, got {type(data).__name__}")
    venues_given = data.get("venues")
    if isinstance(venues_given, list):
        # counted before validating each venue, which would list an error per venue
        if len(venues_given) > MAX_VENUES:
            raise ConfigError(
                f"{source}: venues: {len(venues_given):,} venues, above the cap of "
                f"{MAX_VENUES}: give fewer venues"
            )
        for index, venue in enumerate(venues_given):
            _refuse_unknown(venue, VenueSpec, source, f"venues[{index}]")
    spec: ProblemSpec = _validate(ProblemSpec, data, source)
    venues = len(spec.venues)
    params = CKParams(
        order_size=spec.order_size,
        half_spread=spec.half_spread,
        fee=spec.fee,
        theta=spec.theta,
        lambda_under=spec.lambda_under,
        lambda_over=spec.lambda_over,
        queues=tuple(v.queue for v in spec.venues),
        rebates=tuple(v.rebate for v in spec.venues),
    )
    outflow = spec.outflow
    if "samples" in outflow:
        rows = outflow["samples"]
        if isinstance(rows, list):
            _check_work(source, len(rows), venues, spec.sa_passes, "the rows of outflow.samples")
        sample_spec: SampleSpec = _validate(SampleSpec, outflow, source, "outflow")
        if spec.samples is not None:
            raise ConfigError(
                f"{source}: samples: only with the poisson_factor model; explicit "
                "outflow.samples set their own count"
            )
        for row, values in enumerate(sample_spec.samples):
            if len(values) != venues:
                raise ConfigError(
                    f"{source}: outflow.samples[{row}]: expected {venues} values "
                    f"(one per venue), got {len(values)}"
                )
        outflows: FloatArray = np.asarray(sample_spec.samples, dtype=np.float64).reshape(-1, venues)
        model = "samples"
    elif "model" in outflow:
        factor: PoissonFactorSpec = _validate(PoissonFactorSpec, outflow, source, "outflow")
        count = DEFAULT_SAMPLES if spec.samples is None else spec.samples
        _check_work(source, count, venues, spec.sa_passes, "samples")
        rng = np.random.default_rng(spec.seed)
        outflows = poisson_factor_outflows(rng, count, venues, factor.mean, factor.common_weight)
        model = factor.model
    else:
        raise ConfigError(
            f"{source}: outflow: expected {{'model': 'poisson_factor', 'mean': m, "
            "'common_weight': a}} or {'samples': [[xi_1, ..., xi_K], ...]}"
        )
    return Problem(params, outflows, spec.seed, model, spec.sa_passes)


def _whole_number(text: str) -> int:
    """Read a JSON integer; one too long for Python to convert is beyond every range anyway."""
    if len(text) > 400:
        return -_OUT_OF_RANGE if text.startswith("-") else _OUT_OF_RANGE
    return int(text)


def load_problem(path: Path | str) -> Problem:
    """Read, validate and sample a problem file (JSON) of at most ``MAX_PROBLEM_BYTES``.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable, too large, not JSON (or nested deeper than the
        JSON reader goes), or a field is invalid.
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_PROBLEM_BYTES + 1)
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: no such problem file") from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the problem file: {exc.strerror or exc}") from exc
    if len(raw) > MAX_PROBLEM_BYTES:
        raise ConfigError(
            f"{file}: the problem file is larger than the cap of {MAX_PROBLEM_BYTES // 2**20} "
            "MiB: give fewer explicit outflow samples (or the poisson_factor model)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    try:
        data = json.loads(text, parse_int=_whole_number)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(
            f"{file}: not valid JSON for a problem: nested deeper than the reader goes (a "
            "problem nests 4 levels at most, as in outflow.samples[row][venue])"
        ) from exc
    return parse_problem(data, str(file))


def dumps(document: dict[str, Any]) -> str:
    """Return ``document`` as strict JSON, indented: never ``NaN`` or ``Infinity``.

    Raises
    ------
    SorError
        If a figure is not a finite number (the ranges of the problem's fields exclude it).
    """
    try:
        return json.dumps(document, indent=2, allow_nan=False)
    except ValueError as exc:
        raise SorError(
            "a figure of the answer is not a finite number; lower the problem's money and share "
            "figures"
        ) from exc


def place(problem: Problem) -> PlaceResult:
    """Solve a problem: the allocation and the costs of it and of the simple strategies.

    Deterministic for a given problem (and so for a given seed).
    """
    params = problem.params
    outflows = problem.outflows
    solution = solve(params, outflows, passes=problem.sa_passes)
    to_cents = 100.0 / params.order_size
    costs = {"optimal": solution.cost * to_cents}
    allocations = {"optimal": tuple(int(v) for v in solution.allocation)}
    for name, cost in solution.strategies.items():
        costs[name] = cost * to_cents
        allocations[name] = tuple(int(v) for v in solution.strategy_allocations[name])
    breakdown = cost_breakdown(solution.allocation, params, outflows)
    return PlaceResult(
        allocations=allocations,
        costs=costs,
        method=solution.method,
        fallback=solution.fallback,
        samples=int(outflows.shape[0]),
        seed=problem.seed,
        breakdown=breakdown_cents(breakdown, params.order_size),
        polish_steps=solution.polish_moves,
        method_cost=solution.method_cost * to_cents,
    )
