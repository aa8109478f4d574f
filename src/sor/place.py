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

The answer: the whole-share allocation and, for it and three simple strategies, the average
cost over the samples in cents per share of the order, measured from the mid:

- ``market_only``: the whole order as a marketable order (``M = S``);
- ``single_limit``: the whole order as one limit order (``L_j = S``) at the venue ``j`` where
  that is cheapest (the first such venue on ties);
- ``equal_split``: the order split equally into limit orders at every venue (``L_k = S/K``, the
  first ``S mod K`` venues one share more), no marketable order;
- ``optimal``: Proposition 3's closed form for one venue, the robust stochastic approximation
  (section 4) for several. As a safeguard beyond the paper, if one of the three strategies
  above costs less on the same samples, it is returned instead and named in
  ``solver.fallback``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sor.allocators.ck import (
    CKParams,
    FloatArray,
    poisson_factor_outflows,
    solve,
)
from sor.allocators.exact import exact_cents_per_share
from sor.errors import ConfigError

DEFAULT_SAMPLES = 1000
PAPER_SIZES = (500, 1000, 5000)
PAPER_VENUES = (1, 2, 3, 4, 5)
PAPER_SAMPLES = 10_000
PAPER_SEED = 7
PAPER_MEAN = 2200.0  # m, Poisson mean of xi_0 and eps_k, shares
PAPER_COMMON_WEIGHT = 0.6  # a
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


@dataclass(frozen=True)
class PlaceResult:
    """The allocation and the cost of each strategy, cents per share from the mid."""

    allocations: dict[str, tuple[int, ...]]  # (M, L_1, ..., L_K) of each strategy
    costs: dict[str, float]
    method: str
    fallback: str | None
    samples: int
    seed: int

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
            "solver": {
                "method": self.method,
                "fallback": self.fallback,
                "samples": self.samples,
                "seed": self.seed,
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
        outflows = np.asarray(sample_spec.samples, dtype=np.float64).reshape(-1, venues)
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
    return PlaceResult(
        allocations=allocations,
        costs=costs,
        method=solution.method,
        fallback=solution.fallback,
        samples=int(outflows.shape[0]),
        seed=problem.seed,
    )


# Table 1 of the paper is not shipped: its figures could not be consulted here, and they are
# not guessed. ``sor place --paper-table --paper TABLE.csv`` reads them from a file with the
# columns below (cents per share) and checks ours against them.
PAPER_COLUMNS = ("S", "K", "market_only", "single_limit", "equal_split", "optimal")
PAPER_TOLERANCE_CENTS = 0.05

PaperFigures = dict[tuple[int, int], dict[str, float]]


def load_paper_table(path: Path) -> PaperFigures:
    """Read the paper's Table 1 from a CSV file: ``S,K`` then the four costs, cents per share.

    A cost may be left empty where the paper gives none. A missing or unexpected column, a
    value that is not a number, a repeated or unknown ``(S, K)`` stops with a message naming
    the file and line.
    """
    import csv

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the paper's table ({exc.strerror})") from None
    reader = csv.reader(text.splitlines())
    header = [name.strip() for name in next(reader, [])]
    if tuple(header) != PAPER_COLUMNS:
        raise ConfigError(f"{path}:1: the header must be {','.join(PAPER_COLUMNS)}")
    known = {(s, k) for s in PAPER_SIZES for k in PAPER_VENUES}
    figures: PaperFigures = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(PAPER_COLUMNS):
            raise ConfigError(f"{path}:{line}: expected {len(PAPER_COLUMNS)} fields")
        try:
            key = (int(row[0]), int(row[1]))
            costs = {
                n: float(c) for n, c in zip(PAPER_COLUMNS[2:], row[2:], strict=True) if c.strip()
            }
        except ValueError:
            raise ConfigError(f"{path}:{line}: S and K must be integers, costs numbers") from None
        if key not in known:
            raise ConfigError(f"{path}:{line}: (S, K) = {key} is not in the section 5.1 study")
        if key in figures:
            raise ConfigError(f"{path}:{line}: (S, K) = {key} appears twice")
        if not all(math.isfinite(c) for c in costs.values()):
            raise ConfigError(f"{path}:{line}: costs must be finite numbers")
        figures[key] = costs
    return figures


@dataclass(frozen=True)
class PaperRow:
    """One row of the section 5.1 study, cents per share.

    ``ours``: each strategy's average cost over the samples; ``exact``: the expected cost of
    the same allocation under the outflow model, without sampling; ``paper``: Table 1's,
    where given.
    """

    order_size: int
    venues: int
    ours: dict[str, float]
    exact: dict[str, float]
    paper: dict[str, float] | None
    market: int
    limits: tuple[int, ...]
    fallback: str | None

    def gaps(self) -> dict[str, float]:
        """Return ``|ours - paper|`` per strategy the paper gives, cents per share."""
        paper = self.paper or {}
        return {name: round(abs(self.ours[name] - paper[name]), 4) for name in paper}

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the row."""
        return {
            "S": self.order_size,
            "K": self.venues,
            "ours": self.ours,
            "exact": self.exact,
            "paper": self.paper,
            "gap_to_paper": self.gaps() if self.paper else None,
            "allocation": {"market": self.market, "limits": list(self.limits)},
            "fallback": self.fallback,
        }


def paper_problem(order_size: int, venues: int, *, samples: int, seed: int) -> Problem:
    """Return the section 5.1 problem for one ``(S, K)``.

    ``f = 0.003``, ``h = 0.02``, ``theta = 0.0005``, ``lambda_u = lambda_o = 0.05`` ($/share),
    ``Q_k = 2000`` shares, ``r_k = 0.002`` $/share, ``xi_k = 0.6 xi_0 + 0.4 eps_k`` with
    Poisson(2200) factors.
    """
    return parse_problem(
        {
            "order_size": order_size,
            "half_spread": 0.02,
            "fee": 0.003,
            "theta": 0.0005,
            "lambda_under": 0.05,
            "lambda_over": 0.05,
            "venues": [{"queue": 2000, "rebate": 0.002}] * venues,
            "outflow": {
                "model": "poisson_factor",
                "mean": PAPER_MEAN,
                "common_weight": PAPER_COMMON_WEIGHT,
            },
            "samples": samples,
            "seed": seed,
        },
        source=f"paper problem S={order_size} K={venues}",
    )


def paper_table(
    *,
    samples: int = PAPER_SAMPLES,
    seed: int = PAPER_SEED,
    sizes: Sequence[int] = PAPER_SIZES,
    venue_counts: Sequence[int] = PAPER_VENUES,
    paper: PaperFigures | None = None,
) -> list[PaperRow]:
    """Run the paper's section 5.1 study through :func:`place`; rows beside Table 1.

    Each ``(S, K)`` draws ``samples`` outflow samples with ``seed`` (the same draws for every
    ``S`` at a given ``K``) and reports the average cost of each strategy over them, cents per
    share, and the expected cost of the same allocations computed exactly under the outflow
    model (:mod:`sor.allocators.exact`), beside ``paper`` (:func:`load_paper_table`) where
    given.
    """
    paper = paper or {}
    rows = []
    for size in sizes:
        for venues in venue_counts:
            problem = paper_problem(size, venues, samples=samples, seed=seed)
            result = place(problem)
            exact = {
                name: exact_cents_per_share(
                    np.asarray(result.allocations[name]),
                    problem.params,
                    PAPER_MEAN,
                    PAPER_COMMON_WEIGHT,
                )
                for name in STRATEGIES
            }
            rows.append(
                PaperRow(
                    order_size=size,
                    venues=venues,
                    ours={name: round(result.costs[name], 4) for name in STRATEGIES},
                    exact={name: round(value, 4) for name, value in exact.items()},
                    paper=paper.get((size, venues)),
                    market=result.market,
                    limits=result.limits,
                    fallback=result.fallback,
                )
            )
    return rows


def format_paper_table(rows: Sequence[PaperRow], *, samples: int, seed: int) -> str:
    """Return the study as a text table, cents per share: sampled, exact and the paper's.

    An optimal cost marked ``*`` is a simple strategy's: the stochastic approximation's answer
    cost more on the samples (see :func:`sor.allocators.ck.solve`).
    """

    def cell(value: float | None) -> str:
        return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"

    names = ("market_only", "single_limit", "equal_split", "optimal")
    short = "".join(f"{n:>8}" for n in ("market", "single", "equal", "optimal"))
    lines = [
        "Cont-Kukanov section 5.1: average cost, cents per share from the mid "
        f"({samples} outflow samples, seed {seed})",
        f"{'':6}{'sampled (ours)':>32} |{'exact, same allocation':>32} |{'paper, Table 1':>32} |",
        f"{'S':>4} {'K':>1}{short} |{short} |{short} | allocation (ours)",
    ]
    for row in rows:
        paper = row.paper or {}
        mark = "*" if row.fallback else " "
        lines.append(
            f"{row.order_size:>4} {row.venues:>1}"
            + "".join(f"{cell(row.ours[n]):>8}" for n in names)
            + mark
            + "|"
            + "".join(f"{cell(row.exact[n]):>8}" for n in names)
            + " |"
            + "".join(f"{cell(paper.get(n)):>8}" for n in names)
            + f" | M={row.market} L={list(row.limits)}"
        )
    if any(row.fallback for row in rows):
        lines.append("* a simple strategy: the stochastic approximation's answer cost more.")
    worst = largest_gap(rows)
    if worst is None:
        lines.append("paper: give Table 1 of arXiv 1210.1625 with --paper TABLE.csv: n/a.")
    else:
        gap, row, name = worst
        lines.append(
            f"largest gap to Table 1: {gap:.3f} cents per share ({name}, S={row.order_size}, "
            f"K={row.venues}); the acceptance bound is {PAPER_TOLERANCE_CENTS}."
        )
    return "\n".join(lines)


def largest_gap(rows: Sequence[PaperRow]) -> tuple[float, PaperRow, str] | None:
    """Return the largest ``|ours - paper|`` (cents per share), its row and strategy."""
    gaps = [(gap, row, name) for row in rows for name, gap in row.gaps().items()]
    return max(gaps, key=lambda item: item[0]) if gaps else None
