"""Independent reference optimisers of one Cont-Kukanov placement decision, for tests only.

The model is that of Cont & Kukanov, "Optimal order placement in limit order markets": buy
``S`` shares with ``X = (M, L_1, ..., L_K) >= 0`` whole shares, ``M`` at market and ``L_k`` as
a limit order at venue ``k``, whose queue ahead is ``Q_k`` and whose rebate is ``r_k``.  Given
outflow samples ``xi`` of shape ``(N, K)``, the fill at venue ``k`` in sample ``n`` is
``min(max(xi_nk - Q_k, 0), L_k)``, ``A_n = M + sum_k fill_nk`` and the cost of the sample is::

    v_n = (h + f) M - sum_k (h + r_k) fill_nk + theta (M + sum_k L_k + (S - A_n)+)
          + lam_u (S - A_n)+ + lam_o (A_n - S)+

``V(X) = mean_n v_n`` is in dollars for the whole order (``100 V / S`` cents per share).  The
feasible set is ``C = {0 <= M <= S, 0 <= L_k <= S - M, M + sum_k L_k >= S}``.

Four functions, none of which imports :mod:`sor`, so that the product can be checked against
them:

- :func:`sample_average_cost`: ``V(X)``, literally.
- :func:`exhaustive_optimum`: the exact whole-share minimum by evaluating every lattice point
  of ``C`` (small ``K`` and ``S`` only).
- :func:`lp_optimum`: the linear-programming relaxation (HiGHS through
  :func:`scipy.optimize.linprog`), a lower bound that is exact when
  :func:`relaxation_is_tight`.
- :func:`milp_optimum`: an exact mixed-integer formulation (:func:`scipy.optimize.milp`) for
  any parameters.

Every function takes plain numbers and numpy arrays; ``f`` is the taker fee (not a fill).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

FloatArray = NDArray[np.float64]

#: Default largest number of lattice points :func:`exhaustive_optimum` agrees to evaluate.
MAX_LATTICE_POINTS = 5_000_000

#: Elements of the ``(points, samples)`` work array evaluated at once by the enumeration.
_CHUNK_ELEMENTS = 1 << 22

#: Largest ``|value of the solver - V(rounded X)|`` accepted before a formulation is called
#: broken, dollars (relative to ``1 + |V|``).
_CONSISTENCY = 1e-6


# --------------------------------------------------------------------------------------------
# inputs and the cost itself
# --------------------------------------------------------------------------------------------


def _inputs(
    S: int, queues: ArrayLike, rebates: ArrayLike, xi: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``queues``, ``rebates`` (shape ``(K,)``) and ``xi`` (shape ``(N, K)``) as floats.

    Raises
    ------
    ValueError
        If ``S`` is not a positive whole number, the shapes disagree or ``xi`` is empty or not
        finite.
    """
    if int(S) != S or S <= 0:
        raise ValueError(f"order size S must be a positive whole number, got {S!r}")
    que = np.atleast_1d(np.asarray(queues, dtype=np.float64))
    reb = np.atleast_1d(np.asarray(rebates, dtype=np.float64))
    if que.ndim != 1 or reb.shape != que.shape:
        raise ValueError(f"queues and rebates must both have shape (K,): {que.shape}, {reb.shape}")
    samples = np.asarray(xi, dtype=np.float64)
    if samples.ndim == 1 and que.size == 1:
        samples = samples.reshape(-1, 1)
    if samples.ndim != 2 or samples.shape[1] != que.size or samples.shape[0] == 0:
        raise ValueError(f"xi must have shape (N, {que.size}) with N >= 1, got {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("xi must be finite")
    return que, reb, samples


def _check_penalties(theta: float, lam_u: float, lam_o: float) -> None:
    """Refuse penalties under which ``u >= (S - A)``, ``o >= (A - S)`` are not positive parts.

    Raises
    ------
    ValueError
        If ``lam_o < 0`` or ``theta + lam_u < 0`` (the programs would be unbounded).
    """
    if lam_o < 0 or theta + lam_u < 0:
        raise ValueError(
            f"the programs need lam_o >= 0 and theta + lam_u >= 0, got {lam_o}, {theta + lam_u}"
        )


def sample_average_cost(
    x: ArrayLike,
    S: int,
    h: float,
    f: float,
    theta: float,
    lam_u: float,
    lam_o: float,
    queues: ArrayLike,
    rebates: ArrayLike,
    xi: ArrayLike,
) -> float:
    """Return the sample-average cost ``V(X)`` of one placement, dollars for the whole order.

    Parameters
    ----------
    x : array_like
        ``(M, L_1, ..., L_K)``, shares, shape ``(K + 1,)`` (need not be whole or feasible).
    S : int
        Order size, shares.
    h, f, theta, lam_u, lam_o : float
        Half spread, taker fee, impact, under- and over-fill penalties, dollars per share.
    queues, rebates : array_like
        ``Q_k`` (shares) and ``r_k`` (dollars per share), shape ``(K,)``.
    xi : array_like
        Outflow samples, shares, shape ``(N, K)`` (or ``(N,)`` when ``K = 1``).

    Returns
    -------
    float
        ``mean_n v(X, xi_n)``, dollars.
    """
    que, reb, samples = _inputs(S, queues, rebates, xi)
    vec = np.asarray(x, dtype=np.float64).reshape(-1)
    if vec.size != que.size + 1:
        raise ValueError(f"x must have K + 1 = {que.size + 1} values, got {vec.size}")
    market, limits = vec[0], vec[1:]
    fill = np.minimum(np.maximum(samples - que, 0.0), limits)
    bought = market + fill.sum(axis=1)
    short = np.maximum(S - bought, 0.0)
    over = np.maximum(bought - S, 0.0)
    cost = (
        (h + f) * market
        - fill @ (h + reb)
        + theta * (market + limits.sum() + short)
        + lam_u * short
        + lam_o * over
    )
    return float(cost.mean())


def relaxation_is_tight(h: float, lam_o: float, rebates: ArrayLike) -> bool:
    """Tell whether :func:`lp_optimum` is exact: ``lam_o <= h + r_k`` at every venue.

    Then lowering a fill by ``d`` shares never lowers the cost (it gives up ``(h + r_k) d`` of
    spread and rebate and saves at most ``lam_o d`` of over-fill penalty, while the under-fill
    terms can only grow), so some optimal solution of the relaxation has ``f_nk = min(a_nk, L_k)``
    and its value is the minimum of ``V`` over the *continuous* set ``C``.  That is still only a
    lower bound of the whole-share minimum when the relaxation's ``X`` is fractional.
    """
    return bool(np.all(lam_o <= h + np.atleast_1d(np.asarray(rebates, dtype=np.float64))))


# --------------------------------------------------------------------------------------------
# exhaustive enumeration
# --------------------------------------------------------------------------------------------


def lattice_size(S: int, K: int) -> int:
    """Return the number of whole-share points of ``C`` for order size ``S`` and ``K`` venues.

    For ``M = S - n`` the limits range over ``[0, n]^K`` minus the ``comb(n - 1 + K, K)``
    vectors whose sum is below ``n``.
    """
    return sum((n + 1) ** K - math.comb(n - 1 + K, K) for n in range(S + 1))


def _grids(n: int, dims: int, limit: int) -> Iterator[NDArray[np.int64]]:
    """Yield ``[0, n]^dims`` as blocks of rows, each block of at most ``max(limit, n + 1)``."""
    if dims == 0:
        yield np.zeros((1, 0), dtype=np.int64)
    elif (n + 1) ** dims <= limit or dims == 1:
        axes = np.indices((n + 1,) * dims, dtype=np.int64)
        yield axes.reshape(dims, -1).T
    else:
        for lead in range(n + 1):
            for rest in _grids(n, dims - 1, limit):
                yield np.column_stack([np.full(len(rest), lead, dtype=np.int64), rest])


def _lattice(S: int, K: int, limit: int) -> Iterator[NDArray[np.int64]]:
    """Yield every whole-share point ``(M, L_1..L_K)`` of ``C`` exactly once, in blocks."""
    for market in range(S, -1, -1):
        rest = S - market
        for block in _grids(rest, K, limit):
            keep = block[block.sum(axis=1) >= rest]
            if len(keep):
                yield np.column_stack([np.full(len(keep), market, dtype=np.int64), keep])


def exhaustive_optimum(
    S: int,
    h: float,
    f: float,
    theta: float,
    lam_u: float,
    lam_o: float,
    queues: ArrayLike,
    rebates: ArrayLike,
    xi: ArrayLike,
    *,
    max_points: int = MAX_LATTICE_POINTS,
) -> tuple[NDArray[np.int64], float]:
    """Return the exact whole-share minimiser of ``V`` over ``C`` by evaluating every point.

    The points are evaluated in numpy chunks of about four million (point, sample) pairs, from
    a table of ``min(a_nk, l)`` for every ``l`` in ``0..S``; the work is about
    ``lattice_size(S, K) * N * K`` operations.

    Parameters
    ----------
    S, h, f, theta, lam_u, lam_o, queues, rebates, xi
        As for :func:`sample_average_cost`.
    max_points : int, optional
        Largest lattice accepted, see :func:`lattice_size`.

    Returns
    -------
    x : ndarray of int64
        ``(M, L_1, ..., L_K)``, the first minimiser met (``M`` from ``S`` down, then the limits
        in lexicographic order).
    cost : float
        ``V(x)``, dollars.

    Raises
    ------
    ValueError
        If the lattice has more than ``max_points`` points.
    """
    que, reb, samples = _inputs(S, queues, rebates, xi)
    S = int(S)
    K = que.size
    points = lattice_size(S, K)
    if points > max_points:
        raise ValueError(
            f"the lattice of S={S}, K={K} has {points} points, more than max_points={max_points}"
        )
    ahead = np.maximum(samples - que, 0.0)  # (N, K)
    levels = np.arange(S + 1, dtype=np.float64)
    table = np.minimum(ahead.T[:, None, :], levels[None, :, None])  # (K, S + 1, N)
    rebate_mean = (h + reb)[:, None] * table.mean(axis=2)  # (K, S + 1)
    chunk = max(1, _CHUNK_ELEMENTS // samples.shape[0])
    best_x: NDArray[np.int64] | None = None
    best_cost = math.inf

    def evaluate(block: NDArray[np.int64]) -> None:
        nonlocal best_x, best_cost
        market = block[:, 0].astype(np.float64)
        bought = np.repeat(market[:, None], samples.shape[0], axis=1)
        rebate = np.zeros(len(block))
        for k in range(K):
            bought += table[k, block[:, k + 1]]
            rebate += rebate_mean[k, block[:, k + 1]]
        short = np.maximum(S - bought, 0.0).mean(axis=1)
        over = np.maximum(bought - S, 0.0).mean(axis=1)
        cost = (
            (h + f + theta) * market
            + theta * block[:, 1:].sum(axis=1)
            - rebate
            + (theta + lam_u) * short
            + lam_o * over
        )
        i = int(np.argmin(cost))
        if cost[i] < best_cost:
            best_cost, best_x = float(cost[i]), block[i].copy()

    pending: list[NDArray[np.int64]] = []
    size = 0
    for block in _lattice(S, K, chunk):
        pending.append(block)
        size += len(block)
        if size >= chunk:
            evaluate(np.concatenate(pending))
            pending, size = [], 0
    if pending:
        evaluate(np.concatenate(pending))
    assert best_x is not None  # C always holds (S, 0, ..., 0)
    return best_x, sample_average_cost(best_x, S, h, f, theta, lam_u, lam_o, que, reb, samples)


# --------------------------------------------------------------------------------------------
# the mathematical programs
# --------------------------------------------------------------------------------------------


def _distinct_scenarios(
    S: int, que: FloatArray, samples: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return the distinct rows of ``a = min(max(xi - Q, 0), S)`` and their weights (sum 1).

    Capping ``a`` at ``S`` changes no fill since ``L_k <= S``, and identical rows have
    identical fills, so both reductions are exact (for the relaxation too: averaging the
    solutions of identical rows is feasible and costs the same).
    """
    ahead = np.clip(samples - que, 0.0, float(S))
    rows, counts = np.unique(ahead, axis=0, return_counts=True)
    return rows, counts / samples.shape[0]


class _Program:
    """A sparse program ``min c x`` s.t. ``lo <= A x <= hi``, ``lb <= x <= ub``, built by rows."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[int] = []
        self.rows: list[NDArray[np.int64]] = []
        self.cols: list[NDArray[np.int64]] = []
        self.vals: list[FloatArray] = []
        self.row_lo: list[FloatArray] = []
        self.row_hi: list[FloatArray] = []
        self.nrows = 0

    def add_vars(
        self, cost: ArrayLike, lower: ArrayLike, upper: ArrayLike, integer: int = 0
    ) -> NDArray[np.int64]:
        """Add variables (broadcast to the length of ``cost``); return their indices."""
        c = np.atleast_1d(np.asarray(cost, dtype=np.float64))
        start = len(self.cost)
        self.cost.extend(c.tolist())
        self.lower.extend(np.broadcast_to(np.asarray(lower, dtype=np.float64), c.shape).tolist())
        self.upper.extend(np.broadcast_to(np.asarray(upper, dtype=np.float64), c.shape).tolist())
        self.integer.extend([integer] * c.size)
        return np.arange(start, start + c.size, dtype=np.int64)

    def add_rows(
        self,
        terms: list[tuple[ArrayLike, ArrayLike]],
        lo: ArrayLike,
        hi: ArrayLike,
        count: int,
    ) -> None:
        """Add ``count`` rows ``lo <= sum_t coef_t * x[var_t] <= hi``.

        Each term is ``(var, coef)``, both broadcast to ``(count,)``: row ``i`` gets
        ``coef[i] * x[var[i]]``.
        """
        index = np.arange(self.nrows, self.nrows + count, dtype=np.int64)
        for var, coef in terms:
            self.rows.append(index)
            self.cols.append(np.broadcast_to(np.asarray(var, dtype=np.int64), (count,)))
            self.vals.append(np.broadcast_to(np.asarray(coef, dtype=np.float64), (count,)))
        self.row_lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (count,)))
        self.row_hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (count,)))
        self.nrows += count

    def add_sum_rows(
        self, row: NDArray[np.int64], var: NDArray[np.int64], coef: float, first: int
    ) -> None:
        """Add ``coef * x[var[i]]`` to the existing row ``first + row[i]`` for every ``i``."""
        self.rows.append(first + row)
        self.cols.append(var)
        self.vals.append(np.full(len(var), coef))

    def matrix(self, sign: FloatArray | None = None) -> sparse.csr_array:
        """Return the constraint matrix, row ``i`` multiplied by ``sign[i]`` if given."""
        rows = np.concatenate(self.rows)
        vals = np.concatenate(self.vals)
        if sign is not None:
            vals = vals * sign[rows]
        return sparse.csr_array(
            (vals, (rows, np.concatenate(self.cols))), shape=(self.nrows, len(self.cost))
        )

    def upper_form(self) -> tuple[sparse.csr_array, FloatArray]:
        """Return ``(A_ub, b_ub)`` with ``A_ub x <= b_ub`` (every row must be one-sided)."""
        lo = np.concatenate(self.row_lo)
        hi = np.concatenate(self.row_hi)
        upper = np.isfinite(hi)
        if np.any(upper & np.isfinite(lo)):
            raise AssertionError("a two-sided row")
        sign = np.where(upper, 1.0, -1.0)
        return self.matrix(sign), np.where(upper, hi, -lo)


def _placement_rows(
    prog: _Program, S: int, K: int, h: float, f: float, theta: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Add ``M``, ``L_1..L_K`` and the constraints of ``C``; return their indices."""
    market = prog.add_vars(h + f + theta, 0.0, float(S))
    limits = prog.add_vars(np.full(K, theta), 0.0, float(S))
    prog.add_rows([(market, 1.0), (limits, 1.0)], -np.inf, float(S), K)  # L_k <= S - M
    prog.add_rows([(market, 1.0)] + [(limits[k], 1.0) for k in range(K)], float(S), np.inf, 1)
    return market, limits


def _balance_rows(
    prog: _Program,
    S: int,
    market: NDArray[np.int64],
    weight: FloatArray,
    theta: float,
    lam_u: float,
    lam_o: float,
) -> int:
    """Add ``u_n``, ``o_n`` and the rows ``A_n + u_n >= S``, ``A_n - o_n <= S`` (fills to come).

    Returns the index of the first of the ``2 R`` rows: row ``first + n`` is the under-fill
    row of scenario ``n`` and ``first + R + n`` its over-fill row.
    """
    count = len(weight)
    short = prog.add_vars((theta + lam_u) * weight, 0.0, np.inf)
    over = prog.add_vars(lam_o * weight, 0.0, np.inf)
    first = prog.nrows
    prog.add_rows([(market, 1.0), (short, 1.0)], float(S), np.inf, count)
    prog.add_rows([(market, 1.0), (over, -1.0)], -np.inf, float(S), count)
    return first


def lp_optimum(
    S: int,
    h: float,
    f: float,
    theta: float,
    lam_u: float,
    lam_o: float,
    queues: ArrayLike,
    rebates: ArrayLike,
    xi: ArrayLike,
    *,
    integral: bool = False,
    method: str = "highs-ipm",
    time_limit: float | None = None,
) -> tuple[FloatArray, float]:
    """Return the optimum of the linear relaxation, a lower bound of the minimum of ``V``.

    The program has one fill variable per (distinct) sample and venue, over the continuous set
    ``C``::

        min  (h + f + theta) M + theta sum_k L_k
             + mean_n [ -sum_k (h + r_k) f_nk + (theta + lam_u) u_n + lam_o o_n ]
        s.t. 0 <= f_nk <= a_nk = max(xi_nk - Q_k, 0),  f_nk <= L_k,
             u_n >= S - M - sum_k f_nk,  o_n >= M + sum_k f_nk - S,  u_n, o_n >= 0,  X in C.

    Every true point (``f = min(a, L)``, ``u``, ``o`` the positive parts) is feasible at the
    same cost, so the value is a lower bound of the continuous, and so of the whole-share,
    minimum.  It *equals* the continuous minimum when ``lam_o <= h + r_k`` at every venue (see
    :func:`relaxation_is_tight`; then ``V(x) == cost`` for the returned ``x``).  Otherwise the
    relaxation may decline fills to dodge the over-fill penalty and the bound can be loose.
    Samples with ``a_nk = 0`` get no variable, ``a`` is capped at ``S`` and identical samples
    are merged (all exact).  Solved with HiGHS (``linprog(method="highs")``) on sparse
    matrices.

    Parameters
    ----------
    S, h, f, theta, lam_u, lam_o, queues, rebates, xi
        As for :func:`sample_average_cost`.
    integral : bool, optional
        Require whole ``M`` and ``L_k`` (the fills stay relaxed).  When the relaxation is tight
        this is the exact whole-share minimum without any fill binary; otherwise it is a lower
        bound between the plain relaxation and the whole-share minimum.
    method : str, optional
        The HiGHS method of :func:`scipy.optimize.linprog` for the plain relaxation:
        ``"highs-ipm"`` (interior point then crossover to a vertex, the default: the most
        even times measured, about 1 s at ``N = 1000``, ``K = 8``), ``"highs-ds"`` (dual
        simplex) or ``"highs"`` (HiGHS chooses; simplex here, up to 2-4 s at that size).
        ``integral=True`` always uses ``"highs"`` (branch and bound).
    time_limit : float, optional
        Seconds given to HiGHS.

    Returns
    -------
    x : ndarray
        ``(M, L_1, ..., L_K)`` of an optimal solution, possibly fractional unless ``integral``.
    cost : float
        The program's optimal value, dollars (not ``V(x)`` unless the relaxation is tight).

    Raises
    ------
    ValueError
        If ``lam_o < 0`` or ``theta + lam_u < 0``.
    RuntimeError
        If HiGHS does not report an optimal solution.
    """
    que, reb, samples = _inputs(S, queues, rebates, xi)
    _check_penalties(theta, lam_u, lam_o)
    S = int(S)
    K = que.size
    rows, weight = _distinct_scenarios(S, que, samples)
    prog = _Program()
    market, limits = _placement_rows(prog, S, K, h, f, theta)
    first = _balance_rows(prog, S, market, weight, theta, lam_u, lam_o)
    scen, venue = np.nonzero(rows > 0)
    fill = prog.add_vars(-(h + reb[venue]) * weight[scen], 0.0, rows[scen, venue])
    prog.add_rows([(fill, 1.0), (limits[venue], -1.0)], -np.inf, 0.0, len(fill))
    prog.add_sum_rows(scen, fill, 1.0, first)
    prog.add_sum_rows(scen, fill, 1.0, first + len(weight))
    A_ub, b_ub = prog.upper_form()
    integrality = np.asarray(prog.integer)
    if integral:
        integrality[: K + 1] = 1
    options: dict[str, float] = {"mip_rel_gap": 1e-9} if integral else {}
    if time_limit is not None:
        options["time_limit"] = time_limit
    res = linprog(
        np.asarray(prog.cost),
        A_ub=A_ub,
        b_ub=b_ub,
        bounds=np.column_stack([prog.lower, prog.upper]),
        method="highs" if integral else method,
        integrality=integrality,
        options=options,
    )
    if res.status != 0:
        raise RuntimeError(f"linprog did not solve the relaxation: {res.message}")
    x = np.asarray(res.x, dtype=np.float64)[: K + 1].copy()
    if integral:
        x = np.rint(x)
    return x, float(res.fun)


def _venue_levels(column: FloatArray) -> FloatArray:
    """Return the distinct positive values of one venue's capped ``a``, ascending."""
    return np.unique(column[column > 0])


def milp_optimum(
    S: int,
    h: float,
    f: float,
    theta: float,
    lam_u: float,
    lam_o: float,
    queues: ArrayLike,
    rebates: ArrayLike,
    xi: ArrayLike,
    *,
    formulation: Literal["incremental", "bigm"] = "incremental",
    time_limit: float | None = 60.0,
    mip_rel_gap: float = 1e-9,
) -> tuple[NDArray[np.int64], float]:
    """Return the exact whole-share minimiser of ``V`` over ``C`` by mixed-integer programming.

    ``M`` and ``L_k`` are integers and binaries make every fill equal ``min(a_nk, L_k)``
    exactly, whatever the signs of ``lam_o - h - r_k`` (the fill is pinned from both sides, so
    the formulation does not rely on ``h + r_k > 0`` either).  The fill of a sample depends on
    its venue's ``a_nk`` only, so each venue gets one fill variable ``F_kj = min(b_kj, L_k)``
    per distinct positive level ``b_k1 < ... < b_kJ`` of ``a = min(max(xi - Q, 0), S)``
    (samples at ``a = 0`` need none) and identical samples are merged.  Two formulations:

    ``"incremental"`` (default)
        ``L_k`` is cut into the segments ``[b_{j-1}, b_j]`` (``b_0 = 0``) and ``[b_J, S]``;
        ``F_kj - F_k,j-1`` is the part of segment ``j`` used and a binary ``y_kj`` says segment
        ``j`` is full: ``d_j y_kj <= F_kj - F_k,j-1 <= d_j y_k,j-1`` with ``d_j = b_j - b_{j-1}``
        and ``y_k0 = 1``, and ``0 <= L_k - F_kJ <= (S - b_J) y_kJ``.  This is the classical
        incremental formulation of the piecewise-linear ``min(b, L)``, whose relaxation is the
        convex hull of the graph for each venue; it implies ``y_k1 >= y_k2 >= ...``.
    ``"bigm"``
        A binary ``z_kj`` per level says ``L_k >= b_kj``: ``F_kj <= b_kj``, ``F_kj <= L_k``,
        ``F_kj >= b_kj z_kj``, ``F_kj >= L_k - (S - b_kj) z_kj`` (both big-M bounded by ``S``),
        with the monotonicity ``z_k,j+1 <= z_kj`` across the sorted levels.

    Parameters
    ----------
    S, h, f, theta, lam_u, lam_o, queues, rebates, xi
        As for :func:`sample_average_cost`.
    formulation : {"incremental", "bigm"}, optional
        See above.
    time_limit : float or None, optional
        Seconds given to HiGHS; ``None`` for no limit.
    mip_rel_gap : float, optional
        HiGHS's relative optimality gap (its own default, ``1e-4``, is not exact enough).

    Returns
    -------
    x : ndarray of int64
        ``(M, L_1, ..., L_K)``.
    cost : float
        ``V(x)`` re-evaluated by :func:`sample_average_cost`, dollars.

    Raises
    ------
    ValueError
        If ``lam_o < 0`` or ``theta + lam_u < 0``, or the formulation is unknown.
    RuntimeError
        If HiGHS does not prove optimality (time limit) or its value disagrees with ``V(x)``.
    """
    que, reb, samples = _inputs(S, queues, rebates, xi)
    _check_penalties(theta, lam_u, lam_o)
    if formulation not in ("incremental", "bigm"):
        raise ValueError(f"unknown formulation {formulation!r}")
    S = int(S)
    K = que.size
    rows, weight = _distinct_scenarios(S, que, samples)
    prog = _Program()
    market, limits = _placement_rows(prog, S, K, h, f, theta)
    first = _balance_rows(prog, S, market, weight, theta, lam_u, lam_o)
    for k in range(K):
        levels = _venue_levels(rows[:, k])
        if levels.size == 0:
            continue
        level_of = np.searchsorted(levels, rows[:, k])  # valid where rows[:, k] > 0
        hit = np.nonzero(rows[:, k] > 0)[0]
        mass = np.bincount(level_of[hit], weights=weight[hit], minlength=levels.size)
        fill = prog.add_vars(-(h + reb[k]) * mass, 0.0, levels)
        binary = prog.add_vars(np.zeros(levels.size), 0.0, 1.0, integer=1)
        if formulation == "incremental":
            step = np.diff(levels, prepend=0.0)
            # segment j: d_j y_j <= F_j - F_{j-1} (F_0 = 0)
            start = prog.nrows
            prog.add_rows([(fill, 1.0), (binary, -step)], 0.0, np.inf, levels.size)
            prog.add_sum_rows(np.arange(1, levels.size), fill[:-1], -1.0, start)
            # segment j >= 2: F_j - F_{j-1} <= d_j y_{j-1}
            if levels.size > 1:
                prog.add_rows(
                    [(fill[1:], 1.0), (fill[:-1], -1.0), (binary[:-1], -step[1:])],
                    -np.inf,
                    0.0,
                    levels.size - 1,
                )
            # tail: 0 <= L_k - F_J <= (S - b_J) y_J
            tail = float(S) - levels[-1]
            prog.add_rows([(limits[k], 1.0), (fill[-1], -1.0)], 0.0, np.inf, 1)
            prog.add_rows(
                [(limits[k], 1.0), (fill[-1], -1.0), (binary[-1], -tail)], -np.inf, 0.0, 1
            )
        else:
            n = levels.size
            prog.add_rows([(fill, 1.0), (limits[k], -1.0)], -np.inf, 0.0, n)
            prog.add_rows([(fill, 1.0), (binary, -levels)], 0.0, np.inf, n)
            prog.add_rows(
                [(fill, 1.0), (limits[k], -1.0), (binary, float(S) - levels)], 0.0, np.inf, n
            )
            if n > 1:
                prog.add_rows([(binary[1:], 1.0), (binary[:-1], -1.0)], -np.inf, 0.0, n - 1)
        prog.add_sum_rows(hit, fill[level_of[hit]], 1.0, first)
        prog.add_sum_rows(hit, fill[level_of[hit]], 1.0, first + len(weight))
    integrality = np.asarray(prog.integer)
    integrality[: K + 1] = 1
    options: dict[str, float] = {"mip_rel_gap": mip_rel_gap}
    if time_limit is not None:
        options["time_limit"] = time_limit
    res = milp(
        np.asarray(prog.cost),
        integrality=integrality,
        bounds=Bounds(np.asarray(prog.lower), np.asarray(prog.upper)),
        constraints=LinearConstraint(
            prog.matrix(), np.concatenate(prog.row_lo), np.concatenate(prog.row_hi)
        ),
        options=options,
    )
    if res.status != 0 or res.x is None:
        gap = getattr(res, "mip_gap", None)
        raise RuntimeError(f"milp did not prove optimality (gap {gap}): {res.message}")
    x = np.rint(res.x[: K + 1]).astype(np.int64)
    cost = sample_average_cost(x, S, h, f, theta, lam_u, lam_o, que, reb, samples)
    if abs(cost - res.fun) > _CONSISTENCY * (1.0 + abs(cost)):
        raise RuntimeError(f"milp value {res.fun} disagrees with V(x) = {cost} at x = {x}")
    return x, cost


__all__ = [
    "MAX_LATTICE_POINTS",
    "exhaustive_optimum",
    "lattice_size",
    "lp_optimum",
    "milp_optimum",
    "relaxation_is_tight",
    "sample_average_cost",
]
