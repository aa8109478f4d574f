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
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sor.ck.model import (
    CKParams,
    CostBreakdown,
    FloatArray,
    cost_breakdown,
    poisson_factor_outflows,
)
from sor.ck.solver import solve
from sor.core.errors import ConfigError

DEFAULT_SAMPLES = 1000
STRATEGIES = ("optimal", "market_only", "single_limit", "equal_split")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class VenueSpec(_Strict):
    """One venue: the shares queued ahead at its best bid and its effective rebate."""

    queue: int = Field(ge=0, description="Q_k, shares ahead of a new limit buy.")
    rebate: float = Field(description="r_k, effective rebate of a filled limit buy, $/share.")


class PoissonFactorSpec(_Strict):
    """Outflows ``xi_k = a xi_0 + (1 - a) eps_k`` with i.i.d. Poisson(m) ``xi_0``, ``eps_k``."""

    model: Literal["poisson_factor"]
    mean: float = Field(gt=0, description="m, mean outflow per horizon, shares.")
    common_weight: float = Field(ge=0, le=1, description="a, weight of the common factor.")


class SampleSpec(_Strict):
    """Explicit outflow samples, shares, one row of K values per horizon."""

    samples: list[list[float]] = Field(min_length=1)


class ProblemSpec(_Strict):
    """The problem file as written (validated field by field)."""

    order_size: int = Field(gt=0)
    half_spread: float = Field(ge=0)
    fee: float
    theta: float = Field(ge=0)
    lambda_under: float = Field(ge=0)
    lambda_over: float = Field(ge=0)
    venues: list[VenueSpec] = Field(min_length=1)
    outflow: dict[str, Any]
    samples: int | None = Field(default=None, gt=0, le=10_000_000)
    seed: int = 0
    sa_passes: int = Field(default=1, ge=1, le=10_000)


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


def _where(loc: Sequence[int | str], prefix: str = "") -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "problem"


def _config_error(exc: ValidationError, source: str, prefix: str = "") -> ConfigError:
    problems = "; ".join(f"{_where(err['loc'], prefix)}: {err['msg']}" for err in exc.errors())
    return ConfigError(f"{source}: {problems}")


def parse_problem(data: object, source: str = "problem") -> Problem:
    """Validate a problem (the parsed JSON) and draw its outflow samples.

    Parameters
    ----------
    data : object
        The decoded JSON document.
    source : str
        Name used in error messages (the file name).

    Raises
    ------
    ConfigError
        On a missing, unknown or invalid field; the message names the field.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object, got {type(data).__name__}")
    try:
        spec = ProblemSpec.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, source) from exc
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
        try:
            sample_spec = SampleSpec.model_validate(outflow)
        except ValidationError as exc:
            raise _config_error(exc, source, "outflow") from exc
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
            if any(v < 0 for v in values):
                raise ConfigError(
                    f"{source}: outflow.samples[{row}]: outflows are shares, must be >= 0"
                )
        outflows: FloatArray = np.asarray(sample_spec.samples, dtype=np.float64).reshape(-1, venues)
        model = "samples"
    elif "model" in outflow:
        try:
            factor = PoissonFactorSpec.model_validate(outflow)
        except ValidationError as exc:
            raise _config_error(exc, source, "outflow") from exc
        count = DEFAULT_SAMPLES if spec.samples is None else spec.samples
        rng = np.random.default_rng(spec.seed)
        outflows = poisson_factor_outflows(rng, count, venues, factor.mean, factor.common_weight)
        model = factor.model
    else:
        raise ConfigError(
            f"{source}: outflow: expected {{'model': 'poisson_factor', 'mean': m, "
            "'common_weight': a}} or {'samples': [[xi_1, ..., xi_K], ...]}"
        )
    return Problem(params, outflows, spec.seed, model, spec.sa_passes)


def load_problem(path: Path | str) -> Problem:
    """Read, validate and sample a problem file (JSON).

    Raises
    ------
    ConfigError
        If the file is missing, is not JSON, or a field is invalid.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: no such problem file") from exc
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the problem file: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON: {exc}") from exc
    return parse_problem(data, str(file))


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
