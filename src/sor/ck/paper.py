"""The paper's section 5.1 study (``sor place --paper-table``), beside its Tables 1 and 2.

Cont and Kukanov (arXiv 1210.1625, section 5.1) solve one placement for ``S`` in 500, 1000
and 5000 shares and ``K`` in 1 to 5 identical venues (``f = 0.003``, ``h = 0.02``,
``theta = 0.0005``, ``lambda_u = lambda_o = 0.05`` $/share, ``Q_k = 2000`` shares,
``r_k = 0.002`` $/share, outflows ``xi_k = 0.6 xi_0 + 0.4 eps_k`` with Poisson(2200) factors).
Table 1 gives the optimal allocation in % of ``S`` and the cost of four allocations in cents
per share; the table after it splits the optimal allocation's cost and gives its fill
statistics. This module runs the same study through :func:`sor.ck.place.place`, reads the
paper's figures from CSV files (``S,K`` then named columns), and checks ours against them:

- the three simple allocations (``market_only``, ``single_limit``, ``equal_split``) are
  expectations known up to sampling noise: ours within :data:`TOLERANCE_CENTS` of the paper's
  in every row;
- ``optimal``: ours no more than :data:`TOLERANCE_CENTS` above the paper's (lower is better:
  the paper's solution came from 1,000 iterations of the stochastic approximation);
- ``K = 1``: the closed form of Proposition 3 is checked against an exhaustive scan of the
  sample-average cost over every whole-share limit size (the paper's own ``K = 1`` rows are
  not optimal: there its equal split costs less than its ``X*``).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sor.ck.exact import exact_cents_per_share
from sor.ck.model import CKParams, FloatArray
from sor.ck.place import STRATEGIES, Problem, parse_problem, place
from sor.core.defaults import DEFAULT_PAPER_SAMPLES, DEFAULT_SEED
from sor.core.errors import ConfigError

SIZES = (500, 1000, 5000)
VENUE_COUNTS = (1, 2, 3, 4, 5)
SAMPLES = DEFAULT_PAPER_SAMPLES
SEED = DEFAULT_SEED
MEAN = 2200.0  # m, Poisson mean of xi_0 and eps_k, shares
COMMON_WEIGHT = 0.6  # a
TOLERANCE_CENTS = 0.05
SIMPLE = ("market_only", "single_limit", "equal_split")
COSTS = (*SIMPLE, "optimal")
ALLOCATION_COLUMNS = ("alloc_M_pct", *(f"alloc_L{k}_pct" for k in VENUE_COUNTS), "alloc_total_pct")
BREAKDOWN_COLUMNS = (
    "fees",
    "impact",
    "penalties",
    "total",
    "underfill_shares",
    "overfill_shares",
    "p_underfill_pct",
    "p_overfill_pct",
)
SHARED_ENV = "SOR_SHARED_DIR"
TABLE1_NAME = "ck_table1.csv"
TABLE2_NAME = "ck_table2.csv"

Key = tuple[int, int]


@dataclass(frozen=True)
class PaperFigures:
    """The paper's figures for one ``(S, K)``.

    Attributes
    ----------
    costs : dict of str to float
        Table 1's costs, cents per share, by allocation (those it gives).
    allocation_pct : tuple of float or None
        Table 1's optimal allocation ``(M, L_1, ..., L_K)`` in % of ``S``.
    breakdown : dict of str to float or None
        The second table's row: ``BREAKDOWN_COLUMNS`` (cents per share, shares, %).
    """

    costs: dict[str, float]
    allocation_pct: tuple[float, ...] | None = None
    breakdown: dict[str, float] | None = None


PaperTable = dict[Key, PaperFigures]


def shared_tables() -> tuple[Path | None, Path | None]:
    """Return the paper's tables shipped beside the project, where they are present.

    Looked for in ``$SOR_SHARED_DIR/data``, then ``../shared/data`` from the working
    directory, then ``shared/data`` beside the checkout holding this package.
    """
    roots = []
    if os.environ.get(SHARED_ENV):
        roots.append(Path(os.environ[SHARED_ENV]))
    roots.append(Path.cwd().parent / "shared")
    roots.append(Path(__file__).resolve().parents[4] / "shared")
    for root in roots:
        table1 = root / "data" / TABLE1_NAME
        if table1.is_file():
            table2 = root / "data" / TABLE2_NAME
            return table1, table2 if table2.is_file() else None
    return None, None


def _rows(path: Path, required: Sequence[str], optional: Sequence[str] = ()) -> list[Any]:
    """Return ``(line, cells by column)`` of a CSV file with ``S,K`` and named columns."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{path}: cannot read the paper's table ({reason})") from None
    reader = csv.reader(text.splitlines())
    header = [name.strip() for name in next(reader, [])]
    known = ("S", "K", *required, *optional)
    missing = [name for name in ("S", "K", *required) if name not in header]
    unknown = [name for name in header if name not in known]
    if missing or unknown or len(set(header)) != len(header):
        raise ConfigError(
            f"{path}:1: the header must name S, K, {', '.join(required)}"
            + (f" and optionally {', '.join(optional)}" if optional else "")
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
        )
    valid = {(s, k) for s in SIZES for k in VENUE_COUNTS}
    seen: set[Key] = set()
    rows = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ConfigError(f"{path}:{line}: expected {len(header)} fields, got {len(row)}")
        cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
        try:
            key = (int(cells["S"]), int(cells["K"]))
        except ValueError:
            raise ConfigError(f"{path}:{line}: S and K must be integers") from None
        if key not in valid:
            raise ConfigError(f"{path}:{line}: (S, K) = {key} is not in the section 5.1 study")
        if key in seen:
            raise ConfigError(f"{path}:{line}: (S, K) = {key} appears twice")
        seen.add(key)
        values: dict[str, float] = {}
        for name in header[2:]:
            if not cells[name]:
                continue
            try:
                value = float(cells[name])
            except ValueError:
                raise ConfigError(f"{path}:{line}: {name} must be a number") from None
            if not math.isfinite(value):
                raise ConfigError(f"{path}:{line}: {name} must be a finite number")
            values[name] = value
        rows.append((line, key, values))
    return rows


def load_table1(path: Path) -> dict[Key, tuple[dict[str, float], tuple[float, ...] | None]]:
    """Read Table 1: ``S,K``, the four costs (cents per share; a cell may be empty) and,
    optionally, the optimal allocation ``alloc_M_pct, alloc_L1_pct..alloc_L5_pct`` (% of S,
    empty beyond ``K``) and ``alloc_total_pct``.
    """
    table = {}
    for line, (size, venues), values in _rows(path, COSTS, ALLOCATION_COLUMNS):
        costs = {name: values[name] for name in COSTS if name in values}
        parts = ("alloc_M_pct", *(f"alloc_L{k}_pct" for k in range(1, venues + 1)))
        given = [name for name in parts if name in values]
        beyond = [f"alloc_L{k}_pct" for k in range(venues + 1, 6) if f"alloc_L{k}_pct" in values]
        if beyond:
            raise ConfigError(f"{path}:{line}: {beyond[0]} is beyond K = {venues}")
        allocation = None
        if given:
            if len(given) != len(parts):
                raise ConfigError(f"{path}:{line}: the allocation needs M and L1..L{venues}")
            allocation = tuple(values[name] for name in parts)
        table[(size, venues)] = (costs, allocation)
    return table


def load_table2(path: Path) -> dict[Key, dict[str, float]]:
    """Read the paper's second table: ``S,K`` and ``BREAKDOWN_COLUMNS``, every cell given."""
    table = {}
    for line, key, values in _rows(path, BREAKDOWN_COLUMNS):
        missing = [name for name in BREAKDOWN_COLUMNS if name not in values]
        if missing:
            raise ConfigError(f"{path}:{line}: {missing[0]} is empty")
        table[key] = values
    return table


def load_paper(table1: Path, table2: Path | None = None) -> PaperTable:
    """Read the paper's tables into one :class:`PaperFigures` per ``(S, K)`` of Table 1."""
    first = load_table1(table1)
    second = load_table2(table2) if table2 is not None else {}
    return {
        key: PaperFigures(costs, allocation, second.get(key))
        for key, (costs, allocation) in first.items()
    }


def paper_problem(order_size: int, venues: int, *, samples: int, seed: int) -> Problem:
    """Return the section 5.1 problem for one ``(S, K)``."""
    return parse_problem(
        {
            "order_size": order_size,
            "half_spread": 0.02,
            "fee": 0.003,
            "theta": 0.0005,
            "lambda_under": 0.05,
            "lambda_over": 0.05,
            "venues": [{"queue": 2000, "rebate": 0.002}] * venues,
            "outflow": {"model": "poisson_factor", "mean": MEAN, "common_weight": COMMON_WEIGHT},
            "samples": samples,
            "seed": seed,
        },
        source=f"paper problem S={order_size} K={venues}",
    )


def one_venue_scan_cents(params: CKParams, xi: FloatArray) -> float:
    """Return the least sample-average cost of one venue over every whole-share ``L``.

    On ``C`` one venue has ``M = S - L``, so ``A = S - (L - a)+`` with ``a = (xi - Q)+``:
    never an excess, a shortfall of ``(L - a)+``. Then ``V(L) = (h + f)(S - L)
    - (h + r)(L - E(L - a)+) + theta (S + E(L - a)+) + lambda_u E(L - a)+``, with
    ``E(L - a)+`` for every ``L`` from the sorted samples. Independent of the closed form.
    """
    if params.venues != 1:
        raise ConfigError("the scan is for one venue")
    a = np.sort(np.maximum(xi[:, 0] - params.queues[0], 0.0))
    limits = np.arange(params.order_size + 1, dtype=np.float64)
    below = np.searchsorted(a, limits, side="left")  # samples with a < L
    prefix = np.concatenate(([0.0], np.cumsum(a)))
    short = (below * limits - prefix[below]) / a.size  # E[(L - a)+]
    h, size = params.half_spread, params.order_size
    r = params.rebates[0]
    costs = (
        (h + params.fee) * (size - limits)
        - (h + r) * (limits - short)
        + params.theta * (size + short)
        + params.lambda_under * short
    )
    return float(100.0 * costs.min() / size)


@dataclass(frozen=True)
class PaperRow:
    """One ``(S, K)`` of the study: ours beside the paper's.

    ``ours``: each allocation's average cost over the samples, cents per share; ``exact``: the
    expected cost of the same allocation under the outflow model, without sampling;
    ``allocations``: ours, ``(M, L_1, ..., L_K)`` in shares; ``breakdown``: our optimal
    allocation's, as :func:`sor.ck.place.breakdown_cents`; ``scan``: for ``K = 1``, the least
    sample-average cost over every limit size (:func:`one_venue_scan_cents`);
    ``paper_exact``: the expected cost of the paper's ``X*`` from its percentages.
    """

    order_size: int
    venues: int
    ours: dict[str, float]
    exact: dict[str, float]
    allocations: dict[str, tuple[int, ...]]
    breakdown: dict[str, float]
    fallback: str | None
    scan: float | None
    paper: PaperFigures | None
    paper_exact: float | None

    @property
    def allocation_pct(self) -> tuple[float, ...]:
        """Our optimal allocation ``(M, L_1, ..., L_K)`` in % of ``S``."""
        return tuple(100.0 * v / self.order_size for v in self.allocations["optimal"])

    def gaps(self) -> dict[str, float]:
        """Return ``ours - paper`` per allocation the paper gives, cents per share."""
        costs = self.paper.costs if self.paper else {}
        return {name: round(self.ours[name] - costs[name], 4) for name in COSTS if name in costs}

    def failures(self) -> list[str]:
        """Return what breaks the acceptance rule in this row (empty when it holds)."""
        where = f"S={self.order_size}, K={self.venues}"
        out = []
        for name, gap in self.gaps().items():
            if name in SIMPLE and abs(gap) > TOLERANCE_CENTS:
                out.append(f"{name} at {where} differs from Table 1 by {abs(gap):.3f}")
            if name == "optimal" and gap > TOLERANCE_CENTS:
                out.append(f"optimal at {where} costs {gap:.3f} more than Table 1's")
        if self.scan is not None and self.ours["optimal"] > self.scan + 1e-9:
            out.append(
                f"the closed form at {where} costs {self.ours['optimal'] - self.scan:.6f} "
                "more than the best limit size"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the row."""
        paper = None
        if self.paper is not None:
            paper = {
                "costs": self.paper.costs,
                "allocation_pct": list(self.paper.allocation_pct)
                if self.paper.allocation_pct
                else None,
                "breakdown": self.paper.breakdown,
                "optimal_allocation_exact_cost": self.paper_exact,
            }
        return {
            "S": self.order_size,
            "K": self.venues,
            "ours": self.ours,
            "exact": self.exact,
            "allocations": {
                name: {"market": x[0], "limits": list(x[1:])}
                for name, x in self.allocations.items()
            },
            "allocation_pct": [round(v, 4) for v in self.allocation_pct],
            "breakdown": self.breakdown,
            "fallback": self.fallback,
            "one_venue_scan": self.scan,
            "paper": paper,
            "gap_to_paper": self.gaps() if self.paper else None,
            "failures": self.failures(),
        }


def paper_table(
    *,
    samples: int = SAMPLES,
    seed: int = SEED,
    sizes: Sequence[int] = SIZES,
    venue_counts: Sequence[int] = VENUE_COUNTS,
    paper: PaperTable | None = None,
) -> list[PaperRow]:
    """Run the section 5.1 study through :func:`sor.ck.place.place`; rows beside the paper's.

    Each ``(S, K)`` draws ``samples`` outflow samples with ``seed`` (the same draws for every
    ``S`` at a given ``K``).
    """
    paper = paper or {}
    rows = []
    for size in sizes:
        for venues in venue_counts:
            problem = paper_problem(size, venues, samples=samples, seed=seed)
            params = problem.params
            result = place(problem)
            exact = {
                name: exact_cents_per_share(
                    np.asarray(result.allocations[name]), params, MEAN, COMMON_WEIGHT
                )
                for name in STRATEGIES
            }
            figures = paper.get((size, venues))
            paper_exact = None
            if figures is not None and figures.allocation_pct is not None:
                shares = np.rint(np.asarray(figures.allocation_pct) * size / 100.0)
                paper_exact = round(exact_cents_per_share(shares, params, MEAN, COMMON_WEIGHT), 4)
            scan = None
            if venues == 1:
                scan = round(one_venue_scan_cents(params, problem.outflows), 6)
            rows.append(
                PaperRow(
                    order_size=size,
                    venues=venues,
                    ours={name: round(result.costs[name], 6) for name in STRATEGIES},
                    exact={name: round(value, 4) for name, value in exact.items()},
                    allocations=result.allocations,
                    breakdown={k: round(v, 4) for k, v in result.breakdown.items()},
                    fallback=result.fallback,
                    scan=scan,
                    paper=figures,
                    paper_exact=paper_exact,
                )
            )
    return rows


def failures(rows: Sequence[PaperRow]) -> list[str]:
    """Return every breach of the acceptance rule over the rows."""
    return [failure for row in rows for failure in row.failures()]


def _cell(value: float | None, width: int = 6, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return f"{'-':>{width}}"
    return f"{value:>{width}.{digits}f}"


def _pct(values: Sequence[float] | None) -> str:
    if values is None:
        return "-"
    parts = "/".join(f"{v:.0f}" for v in values)
    return f"{parts} ={sum(values):.0f}"


def format_paper_table(rows: Sequence[PaperRow], *, samples: int, seed: int) -> str:
    """Return the study as text: Table 1 and the cost breakdown, ours beside the paper's."""
    lines = [
        "Cont-Kukanov section 5.1, Table 1: cost in cents per share from the mid",
        f"  ours: average over {samples} outflow samples (seed {seed}); exact: expectation of "
        "our allocation; paper: Table 1",
        f"{'':6}"
        + "".join(f"  {name:^21}" for name in COSTS)
        + "  optimal allocation, % of S (M/L1/../LK =total)",
        f"{'S':>4} {'K':>1}" + "    ours  exact paper" * 4 + "  ours | paper",
    ]
    for row in rows:
        costs = row.paper.costs if row.paper else {}
        cells = "".join(
            f" {_cell(row.ours[n], 7, 3)}{_cell(row.exact[n], 7, 3)}{_cell(costs.get(n), 6)}"
            + ("*" if n == "optimal" and row.fallback else " ")
            for n in COSTS
        )
        pct = _pct(row.paper.allocation_pct) if row.paper else "-"
        lines.append(
            f"{row.order_size:>4} {row.venues:>1}{cells} {_pct(row.allocation_pct)} | {pct}"
        )
    if any(row.fallback for row in rows):
        lines.append("* a simple allocation: the solver's answer cost more on the samples.")
    lines += [
        "",
        "Cost of the optimal allocation split (the paper's second table), ours | paper:",
        "  fees (spread, fees, rebates), impact, penalties, total: cents per share;",
        "  underfill, overfill: average shares; P(under) = P(A < S), P(over) = P(A > S), %",
        f"{'S':>4} {'K':>1}"
        + "".join(
            f"  {name:>13}"
            for name in ("fees", "impact", "penalties", "total", "underfill", "overfill")
        )
        + f"  {'P(under) %':>13}  {'P(over) %':>13}",
    ]
    for row in rows:
        ours = row.breakdown
        total = ours["fees"] + ours["impact"] + ours["penalties"]
        values = [
            ours["fees"],
            ours["impact"],
            ours["penalties"],
            total,
            ours["underfill_shares"],
            ours["overfill_shares"],
            100.0 * ours["p_underfill"],
            100.0 * ours["p_overfill"],
        ]
        theirs = row.paper.breakdown if row.paper and row.paper.breakdown else {}
        digits = (2, 2, 2, 2, 0, 0, 0, 0)
        cells = "".join(
            f"  {_cell(v, 6, d)}|{_cell(theirs.get(name), 6, d)}"
            for v, name, d in zip(values, BREAKDOWN_COLUMNS, digits, strict=True)
        )
        lines.append(f"{row.order_size:>4} {row.venues:>1}{cells}")
    lines += ["", *verdict(rows)]
    return "\n".join(lines)


def verdict(rows: Sequence[PaperRow]) -> list[str]:
    """Return the acceptance rule's outcome in a few lines."""
    with_paper = [row for row in rows if row.paper is not None]
    if not with_paper:
        return [
            "paper: no Table 1 given (--paper FILE, or ck_table1.csv in ../shared/data): "
            "nothing to compare."
        ]
    simple = [
        (abs(gap), row, name)
        for row in with_paper
        for name, gap in row.gaps().items()
        if name in SIMPLE
    ]
    optimal = [(row.gaps()["optimal"], row) for row in with_paper if "optimal" in row.gaps()]
    lines = [f"acceptance, bound {TOLERANCE_CENTS} cents per share, {len(with_paper)} rows:"]
    if simple:
        gap, row, name = max(simple, key=lambda item: item[0])
        lines.append(
            f"  simple allocations: largest |ours - paper| {gap:.3f} ({name}, "
            f"S={row.order_size}, K={row.venues})"
        )
    if optimal:
        worst, row = max(optimal, key=lambda item: item[0])
        best, best_row = min(optimal, key=lambda item: item[0])
        lines.append(
            f"  optimal: ours - paper from {best:.3f} (S={best_row.order_size}, "
            f"K={best_row.venues}) to {worst:.3f} (S={row.order_size}, K={row.venues}); "
            "below zero is cheaper than the paper's"
        )
    scans = [row for row in rows if row.scan is not None]
    if scans:
        worst_scan = max(row.ours["optimal"] - (row.scan or 0.0) for row in scans)
        lines.append(
            f"  K = 1: the closed form is {worst_scan:+.6f} from the best of every limit "
            f"size in {len(scans)} rows"
        )
    broken = failures(rows)
    lines.append(f"  {'FAILED: ' + '; '.join(broken) if broken else 'passed'}")
    return lines
