"""The full Cont-Kukanov placement model: cost, one-venue closed form, stochastic approximation.

Model (R. Cont and A. Kukanov, "Optimal order placement in limit order markets", arXiv
1210.1625, section 2; restated in ``docs/ck.md``): buy ``S`` shares within a
horizon with ``X = (M, L_1, ..., L_K)``, ``M`` shares as a marketable order and ``L_k`` shares as a
limit buy behind a queue of ``Q_k`` shares at venue ``k``. With ``xi_k`` the shares leaving the
front of venue ``k``'s bid queue during the horizon, the limit order at ``k`` fills
``min(max(xi_k - Q_k, 0), L_k)`` shares, ``A = M + sum_k fill_k`` shares are bought, and the cost
in dollars, measured from the mid, is::

    v(X, xi) = (h + f) M - sum_k (h + r_k) fill_k + theta (M + sum_k L_k + (S - A)+)
             + lambda_u (S - A)+ + lambda_o (A - S)+

Units throughout: shares for ``S``, ``M``, ``L_k``, ``Q_k`` and ``xi_k``; dollars per share for
``h`` (half-spread), ``f`` (taker fee), ``r_k`` (effective rebate), ``theta`` (impact) and the
penalties ``lambda_u``, ``lambda_o``; dollars for ``v``.

An optimum lies in ``C = {0 <= M <= S, 0 <= L_k <= S - M, M + sum_k L_k >= S}`` (the paper's
feasible set). This module gives:

- :func:`cost_samples` and :func:`expected_cost`: ``v`` per sample and its sample average ``V``,
  vectorised in numpy;
- :func:`closed_form_one_venue`: Proposition 3 for ``K = 1`` with the empirical distribution
  function of the samples, which is the exact minimiser of the sample-average cost over ``C``;
- :func:`solve_sa`: the robust stochastic approximation of section 4 for any ``K`` (a compiled
  loop), projecting every iterate onto ``C`` exactly and returning the average of the iterates,
  and :func:`round_to_shares`, which rounds it to whole shares inside ``C``;
- :func:`polish`: an exact descent of the sample-average cost over whole shares, from the
  stochastic approximation's rounded answer;
- :func:`solve`: the whole-share answer (closed form for one venue, stochastic approximation
  and polish otherwise), never costlier on the samples than the paper's simple allocations
  of :func:`simple_strategies` (market order, single limit order, equal split);
- :func:`cost_breakdown`: the cost split into fees, impact and penalties, with fill
  statistics (the paper's second table);
- :func:`poisson_factor_outflows`: the section 5.1 outflow model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from sor.core.errors import ConfigError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class CKParams:
    """One placement decision of the Cont-Kukanov model.

    Attributes
    ----------
    order_size : int
        ``S``, shares to buy within the horizon (positive).
    half_spread : float
        ``h``, half the bid-ask spread, dollars per share.
    fee : float
        ``f``, taker fee of a marketable order, dollars per share.
    theta : float
        ``theta``, market impact of every share sent, dollars per share.
    lambda_under : float
        ``lambda_u``, penalty per share bought short of ``S``, dollars per share.
    lambda_over : float
        ``lambda_o``, penalty per share bought beyond ``S``, dollars per share.
    queues : tuple of int
        ``Q_k``, shares queued ahead of a new limit buy at each venue's best bid.
    rebates : tuple of float
        ``r_k``, effective rebate of a filled limit order at each venue, dollars per share.
    """

    order_size: int
    half_spread: float
    fee: float
    theta: float
    lambda_under: float
    lambda_over: float
    queues: tuple[int, ...]
    rebates: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.order_size <= 0:
            raise ConfigError(
                f"order_size: must be a positive number of shares, got {self.order_size}"
            )
        if not self.queues:
            raise ConfigError("venues: at least one venue is needed")
        if len(self.queues) != len(self.rebates):
            raise ConfigError("venues: one queue and one rebate per venue")

    @property
    def venues(self) -> int:
        """Return the number of venues ``K``."""
        return len(self.queues)

    def queue_array(self) -> FloatArray:
        """Return ``Q_k`` as a float array, shares."""
        return np.asarray(self.queues, dtype=np.float64)

    def rebate_array(self) -> FloatArray:
        """Return ``r_k`` as a float array, dollars per share."""
        return np.asarray(self.rebates, dtype=np.float64)


@dataclass(frozen=True)
class Placement:
    """An allocation ``X = (M, L_1, ..., L_K)`` in shares.

    Attributes
    ----------
    market : float
        ``M``, shares sent as a marketable order.
    limits : tuple of float
        ``L_k``, shares sent as a limit buy at each venue.
    """

    market: float
    limits: tuple[float, ...]

    def vector(self) -> FloatArray:
        """Return ``(M, L_1, ..., L_K)`` as a float array, shares."""
        return np.asarray((self.market, *self.limits), dtype=np.float64)

    @classmethod
    def from_vector(cls, x: ArrayLike) -> Placement:
        """Build a placement from ``(M, L_1, ..., L_K)``, shares."""
        values = np.asarray(x, dtype=np.float64)
        return cls(float(values[0]), tuple(float(v) for v in values[1:]))

    def as_int(self) -> tuple[int, tuple[int, ...]]:
        """Return ``(M, (L_1, ..., L_K))`` as integers (for whole-share placements)."""
        return round(self.market), tuple(round(v) for v in self.limits)


def as_samples(xi: ArrayLike, venues: int) -> FloatArray:
    """Return outflow samples as a float array of shape ``(N, K)``, shares.

    Parameters
    ----------
    xi : array_like
        Outflow samples, shape ``(N, K)`` (or ``(N,)`` when ``K = 1``), shares.
    venues : int
        ``K``, the number of venues.

    Raises
    ------
    ConfigError
        If the shape does not match, there is no sample, or a value is negative or not finite.
    """
    samples = np.asarray(xi, dtype=np.float64)
    if samples.ndim == 1 and venues == 1:
        samples = samples.reshape(-1, 1)
    if samples.ndim != 2 or samples.shape[1] != venues:
        raise ConfigError(
            f"outflow samples: expected shape (N, {venues}), got {tuple(samples.shape)}"
        )
    if samples.shape[0] == 0:
        raise ConfigError("outflow samples: at least one sample is needed")
    if not np.all(np.isfinite(samples)) or np.any(samples < 0):
        raise ConfigError("outflow samples: every value must be a finite number >= 0 of shares")
    return samples


def fills(limits: ArrayLike, queues: ArrayLike, xi: FloatArray) -> FloatArray:
    """Return the filled shares of each limit order in each sample, shape ``(N, K)``.

    Parameters
    ----------
    limits : array_like
        ``L_k``, shares, shape ``(K,)``.
    queues : array_like
        ``Q_k``, shares, shape ``(K,)``.
    xi : ndarray
        Outflows, shares, shape ``(N, K)``.
    """
    lim = np.asarray(limits, dtype=np.float64)
    que = np.asarray(queues, dtype=np.float64)
    return np.minimum(np.maximum(xi - que, 0.0), lim)


def _cost_parts(
    x: ArrayLike, params: CKParams, xi: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, bool]:
    """Return the parts of ``v(X, xi)`` per allocation and sample, each of shape ``(C, N)``.

    ``(fees, impact, penalties, short, over, single)``: the spread, fees and rebates
    ``(h + f) M - sum_k (h + r_k) fill_k``, the impact ``theta (M + sum_k L_k + (S - A)+)`` and
    the penalties ``lambda_u (S - A)+ + lambda_o (A - S)+`` in dollars, the shortfall ``(S - A)+``
    and the excess ``(A - S)+`` in shares; ``single`` tells whether ``x`` was one allocation.
    """
    samples = as_samples(xi, params.venues)
    vec = np.asarray(x, dtype=np.float64)
    if vec.shape[-1] != params.venues + 1 or vec.ndim > 2:
        raise ConfigError(
            f"allocation: expected {params.venues + 1} values (M, L_1..L_K), got {vec.shape}"
        )
    xs = vec.reshape(-1, params.venues + 1)
    market = xs[:, :1]
    limits = xs[:, 1:]
    ahead = np.maximum(samples - params.queue_array(), 0.0)
    filled = np.minimum(ahead[None, :, :], limits[:, None, :])
    bought = market + filled.sum(axis=2)
    short = np.maximum(params.order_size - bought, 0.0)
    over = np.maximum(bought - params.order_size, 0.0)
    h = params.half_spread
    fees = (h + params.fee) * market - filled @ (h + params.rebate_array())
    impact = params.theta * (market + limits.sum(axis=1, keepdims=True) + short)
    penalties = params.lambda_under * short + params.lambda_over * over
    return fees, impact, penalties, short, over, vec.ndim == 1


def cost_samples(x: ArrayLike, params: CKParams, xi: ArrayLike) -> FloatArray:
    """Return the cost ``v(X, xi)`` of one or several allocations in each sample, dollars.

    Parameters
    ----------
    x : array_like
        ``(M, L_1, ..., L_K)`` in shares, shape ``(K + 1,)``, or several allocations, one per
        row, shape ``(C, K + 1)``.
    params : CKParams
        The decision's parameters.
    xi : array_like
        Outflow samples, shares, shape ``(N, K)``.

    Returns
    -------
    ndarray
        ``v(X, xi^n)`` for each sample ``n``, dollars for the whole order: shape ``(N,)`` for
        one allocation, ``(C, N)`` for several.
    """
    fees, impact, penalties, _, _, single = _cost_parts(x, params, xi)
    costs = fees + impact + penalties
    out: FloatArray = costs[0] if single else costs
    return out


@dataclass(frozen=True)
class CostBreakdown:
    """The sample-average cost of one allocation split as in the paper's section 5.1.

    Attributes
    ----------
    fees : float
        Spread, fees and rebates, ``E[(h + f) M - sum_k (h + r_k) fill_k]``, dollars.
    impact : float
        Market impact, ``theta E[M + sum_k L_k + (S - A)+]``, dollars.
    penalties : float
        ``E[lambda_u (S - A)+ + lambda_o (A - S)+]``, dollars.
    underfill_shares, overfill_shares : float
        ``E[(S - A)+]`` and ``E[(A - S)+]``, shares.
    p_underfill, p_overfill : float
        ``P(A < S)`` and ``P(A > S)`` over the samples, in ``[0, 1]``.
    """

    fees: float
    impact: float
    penalties: float
    underfill_shares: float
    overfill_shares: float
    p_underfill: float
    p_overfill: float

    @property
    def total(self) -> float:
        """Return ``fees + impact + penalties``: the sample-average cost ``V``, dollars."""
        return self.fees + self.impact + self.penalties


def cost_breakdown(x: ArrayLike, params: CKParams, xi: ArrayLike) -> CostBreakdown:
    """Return the parts of the sample-average cost of one allocation and its fill statistics."""
    vec = np.asarray(x, dtype=np.float64).reshape(-1)
    fees, impact, penalties, short, over, _ = _cost_parts(vec, params, xi)
    return CostBreakdown(
        fees=float(fees.mean()),
        impact=float(impact.mean()),
        penalties=float(penalties.mean()),
        underfill_shares=float(short.mean()),
        overfill_shares=float(over.mean()),
        p_underfill=float((short > 0).mean()),
        p_overfill=float((over > 0).mean()),
    )


def expected_cost(x: ArrayLike, params: CKParams, xi: ArrayLike) -> float:
    """Return the sample-average cost ``V(X)`` of one allocation, dollars for the whole order."""
    return float(cost_samples(np.asarray(x, dtype=np.float64).reshape(-1), params, xi).mean())


def expected_costs(xs: ArrayLike, params: CKParams, xi: ArrayLike) -> FloatArray:
    """Return ``V(X)`` for each allocation (row) of ``xs``, dollars, shape ``(C,)``."""
    rows = np.asarray(xs, dtype=np.float64).reshape(-1, params.venues + 1)
    out: FloatArray = cost_samples(rows, params, xi).mean(axis=1)
    return out


def cents_per_share(x: ArrayLike, params: CKParams, xi: ArrayLike) -> float:
    """Return ``V(X)`` as cents per share of the order, measured from the mid."""
    return 100.0 * expected_cost(x, params, xi) / params.order_size


def critical_ratio(params: CKParams, venue: int = 0) -> float:
    """Return Proposition 3's ``c = (2h + f + r) / (lambda_u + h + r + theta)`` for one venue."""
    h = params.half_spread
    r = params.rebates[venue]
    denominator = params.lambda_under + h + r + params.theta
    numerator = 2 * h + params.fee + r
    if denominator <= 0:
        return math.inf if numerator > 0 else 0.0
    return numerator / denominator


def closed_form_one_venue(params: CKParams, xi: ArrayLike) -> Placement:
    """Solve one venue with Proposition 3 and the empirical distribution of the samples.

    On the feasible set ``C`` one venue has ``M = S - L``; the right derivative of the
    sample-average cost in ``L`` is ``(lambda_u + h + r + theta) F(Q + L) - (2h + f + r)``, so the
    minimiser is ``L* = F^-1(c) - Q`` clipped to ``[0, S]``, with ``F`` the empirical
    distribution function of the outflow and ``F^-1(c) = min{x : F(x) >= c}``. Hence:

    - the market order alone is optimal (``L* = 0``) when ``F(Q) >= c``, i.e.
      ``lambda_u >= (2h + f + r) / F(Q) - (h + r + theta)``;
    - the limit order alone is optimal (``L* = S``) when ``F(Q + S) < c``, in particular when
      ``c > 1``, i.e. ``lambda_u < h + f - theta``;
    - otherwise ``0 < L* < S`` and ``M* = S - L*``.

    This needs ``lambda_u + h + r + theta > 0`` (true unless the rebate is a fee above
    ``lambda_u + h + theta``); otherwise the derivative does not increase, the cost is concave
    in ``L``, and the cheaper end, ``L = 0`` or ``L = S``, is returned (``L = 0`` on a tie).

    Parameters
    ----------
    params : CKParams
        One venue's decision (``K = 1``).
    xi : array_like
        Outflow samples at the venue, shares, shape ``(N,)`` or ``(N, 1)``.

    Returns
    -------
    Placement
        ``(M*, L*)`` in shares; whole shares when the samples and ``Q`` are whole shares.
    """
    if params.venues != 1:
        raise ConfigError(f"the closed form is for one venue, got {params.venues}")
    samples = as_samples(xi, 1)
    size = params.order_size
    slope = params.lambda_under + params.half_spread + params.rebates[0] + params.theta
    if slope > 0:
        ordered = np.sort(samples[:, 0])
        limit = _quantile_limit(ordered, critical_ratio(params), params.queues[0], size)
    else:
        # the right derivative does not increase: the cost is concave in L, the better end wins
        ends = np.array([[size, 0.0], [0.0, size]])
        costs = expected_costs(ends, params, samples)
        limit = float(size) if costs[1] < costs[0] else 0.0
    return Placement(float(size) - limit, (limit,))


def _quantile_limit(ordered: FloatArray, c: float, queue: float, size: int) -> float:
    """Return ``F^-1(c) - Q`` clipped to ``[0, S]`` for sorted samples ``ordered``, shares."""
    if c > 1.0:
        return float(size)
    if c <= 0.0:
        return 0.0
    # smallest sample x with F(x) = #{xi <= x} / N >= c; the 1e-12 guards c * N landing a hair
    # above an integer through rounding
    rank = max(math.ceil(c * ordered.size - 1e-12), 1)
    return min(max(float(ordered[rank - 1]) - queue, 0.0), float(size))


def sa_step_size(params: CKParams, iterations: int) -> float:
    """Return the paper's constant step of the robust stochastic approximation, shares per $.

    ``gamma = sqrt(K) S / sqrt(N (h+f+theta+lambda_u+lambda_o)^2
    + N sum_k (h+r_k+theta+lambda_u+lambda_o)^2)`` with ``N`` the number of iterations: the
    set's diameter over ``sqrt(N)`` times a bound on the sample gradient's norm.
    """
    h = params.half_spread
    penalties = params.theta + params.lambda_under + params.lambda_over
    norm2 = (h + params.fee + penalties) ** 2 + sum(
        (h + r + penalties) ** 2 for r in params.rebates
    )
    if norm2 <= 0 or iterations <= 0:
        return 0.0
    return math.sqrt(params.venues) * params.order_size / math.sqrt(iterations * norm2)


@numba.njit(cache=True)
def _sort_desc(values: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Copy ``values`` into ``out`` sorted in decreasing order (insertion sort; small arrays)."""
    n = values.size
    for i in range(n):
        v = values[i]
        j = i
        while j > 0 and out[j - 1] < v:
            out[j] = out[j - 1]
            j -= 1
        out[j] = v


@numba.njit(cache=True)
def _project(x: np.ndarray, size: float, work: np.ndarray) -> None:  # pragma: no cover
    """Replace ``x = (M, L)`` by its Euclidean projection onto ``C`` (in place).

    First the projection onto ``P = {0 <= M <= S, 0 <= L_k <= S - M}``: with ``u = S - M`` its
    optimality conditions give ``L_k = clip(y_k, 0, u)`` and ``u`` the root of the increasing
    ``u - u0 - sum_k max(y_k - u, 0)`` on ``[0, S]``, found exactly over the sorted ``y``. If
    that point has ``M + sum L >= S`` it is the projection onto ``C``; otherwise the constraint
    is active at the projection, and ``C`` meets ``M + sum L = S`` in the simplex
    ``{X >= 0, sum X = S}`` (there ``L_k <= S - M`` holds by itself), so the answer is the
    projection onto that simplex. ``work`` is scratch of length ``K + 1``.
    """
    k = x.size - 1
    u0 = size - x[0]
    ys = work[:k]
    _sort_desc(x[1:], ys)
    # root of phi(u) = u - u0 - sum max(y - u, 0), clipped to [0, S]
    phi0 = -u0
    for i in range(k):
        if ys[i] > 0.0:
            phi0 -= ys[i]
    if phi0 >= 0.0:
        u = 0.0
    else:
        phis = size - u0
        for i in range(k):
            if ys[i] > size:
                phis -= ys[i] - size
        if phis <= 0.0:
            u = size
        else:
            u = size
            total = u0
            for j in range(k + 1):
                candidate = total / (1.0 + j)
                if j == k or ys[j] <= candidate:
                    u = candidate
                    break
                total += ys[j]
            u = min(max(u, 0.0), size)
    total_p = size - u
    for i in range(k):
        total_p += min(max(x[1 + i], 0.0), u)
    if total_p >= size * (1.0 - 1e-12):
        x[0] = size - u
        for i in range(k):
            x[1 + i] = min(max(x[1 + i], 0.0), u)
        return
    # projection onto the simplex {X >= 0, sum X = S}
    _sort_desc(x, work)
    cumulative = 0.0
    tau = 0.0
    for j in range(k + 1):
        cumulative += work[j]
        t = (cumulative - size) / (j + 1.0)
        if work[j] - t > 0.0:
            tau = t
    for i in range(k + 1):
        x[i] = max(x[i] - tau, 0.0)


@numba.njit(cache=True)
def _sa_kernel(
    xi: np.ndarray,
    queues: np.ndarray,
    rebates: np.ndarray,
    size: float,
    h: float,
    f: float,
    theta: float,
    lambda_u: float,
    lambda_o: float,
    gamma: float,
    x0: np.ndarray,
    passes: int,
) -> np.ndarray:  # pragma: no cover - compiled
    """Run the robust stochastic approximation; return the average of the iterates."""
    n, k = xi.shape
    x = x0.copy()
    acc = np.zeros(k + 1)
    work = np.empty(k + 1)
    tol = 1e-9 * max(size, 1.0)
    for _ in range(passes):
        for s in range(n):
            for i in range(k + 1):
                acc[i] += x[i]
            bought = x[0]
            for i in range(k):
                ahead = xi[s, i] - queues[i]
                if ahead > 0.0:
                    bought += min(ahead, x[1 + i])
            common = 0.0
            if bought < size - tol:
                common = -(lambda_u + theta)
            elif bought > size + tol:
                common = lambda_o
            g0 = h + f + theta + common
            for i in range(k):
                g = theta
                if xi[s, i] > queues[i] + x[1 + i]:
                    g += -(h + rebates[i]) + common
                x[1 + i] -= gamma * g
            x[0] -= gamma * g0
            _project(x, size, work)
    return acc / (n * passes)


def project_feasible(x: ArrayLike, order_size: float) -> FloatArray:
    """Return the Euclidean projection of ``(M, L_1, ..., L_K)`` onto ``C``, shares."""
    out = np.array(x, dtype=np.float64)
    _project(out, float(order_size), np.empty(out.size))
    return out


def default_start(params: CKParams) -> FloatArray:
    """Return the uninformed start ``X_0 = (S/(K+1), ..., S/(K+1))``: on ``C``, no venue favoured."""
    return np.full(params.venues + 1, params.order_size / (params.venues + 1.0))


def quantile_start(params: CKParams, xi: ArrayLike) -> FloatArray:
    """Return a warm start: each venue's own one-venue optimum, the market order for the rest.

    ``L_k = F_k^-1(c_k) - Q_k`` clipped to ``[0, S]`` (Proposition 3 at venue ``k`` alone, with
    the empirical distribution of its outflow) and ``M = max(S - sum L_k, 0)``, projected onto
    ``C``. It ignores the diversification across venues, which the iterations then add; it
    spares them the slow drift through the region where a limit order cannot fill (there the
    sample gradient is ``theta`` only).
    """
    ordered = np.sort(as_samples(xi, params.venues), axis=0)
    limits = np.array(
        [
            _quantile_limit(ordered[:, k], critical_ratio(params, k), q, params.order_size)
            for k, q in enumerate(params.queues)
        ]
    )
    market = max(params.order_size - float(limits.sum()), 0.0)
    return project_feasible(np.concatenate(([market], limits)), params.order_size)


def market_only(params: CKParams) -> IntArray:
    """Return the whole order as a marketable order: ``M = S``, no limit order."""
    out = np.zeros(params.venues + 1, dtype=np.int64)
    out[0] = params.order_size
    return out


def single_limit(params: CKParams, venue: int = 0) -> IntArray:
    """Return the whole order as one limit order at ``venue``: ``L_venue = S``.

    The paper's ``X_L = (0, S, 0, ..., 0)`` is ``venue = 0``, the first venue given.
    """
    out = np.zeros(params.venues + 1, dtype=np.int64)
    out[1 + venue] = params.order_size
    return out


def equal_split(params: CKParams) -> IntArray:
    """Return the paper's ``X_E``: ``S/(K+1)`` to the market order and to every venue's limit.

    In whole shares: ``floor(S/(K+1))`` each, and the first ``S mod (K+1)`` of
    ``(M, L_1, ..., L_K)`` one share more, so the allocation adds up to ``S``.
    """
    base, extra = divmod(params.order_size, params.venues + 1)
    return np.asarray(
        [base + (1 if i < extra else 0) for i in range(params.venues + 1)], dtype=np.int64
    )


SIMPLE_STRATEGIES = ("market_only", "single_limit", "equal_split")


def simple_strategies(params: CKParams, xi: ArrayLike) -> dict[str, tuple[IntArray, float]]:
    """Return the paper's three simple allocations and their sample-average costs, dollars.

    ``market_only`` (``X_M``, :func:`market_only`), ``single_limit`` (``X_L``, the whole order
    as a limit order at the first venue, :func:`single_limit`) and ``equal_split`` (``X_E``,
    :func:`equal_split`). All three lie in ``C`` and are whole shares.
    """
    rows = [market_only(params), single_limit(params), equal_split(params)]
    costs = expected_costs(np.stack(rows), params, xi)
    return {name: (rows[i], float(costs[i])) for i, name in enumerate(SIMPLE_STRATEGIES)}


def best_start(
    params: CKParams,
    xi: ArrayLike,
    strategies: dict[str, tuple[IntArray, float]] | None = None,
) -> FloatArray:
    """Return the cheapest on the samples of :func:`quantile_start`, the simple strategies and
    the single limit order at each venue.

    The robust stochastic approximation converges from any ``X_0`` in ``C``; its error bound
    grows with the distance from ``X_0`` to the optimum, and averaging the iterates carries the
    early ones, so a cheap start that is already good shortens the way. ``strategies`` may pass
    :func:`simple_strategies` already computed for the same samples.
    """
    samples = as_samples(xi, params.venues)
    simple = simple_strategies(params, samples) if strategies is None else strategies
    candidates = [quantile_start(params, samples)]
    candidates += [x.astype(np.float64) for x, _ in simple.values()]
    candidates += [single_limit(params, v).astype(np.float64) for v in range(1, params.venues)]
    costs = expected_costs(np.stack(candidates), params, samples)
    best: FloatArray = candidates[int(np.argmin(costs))]
    return best


def solve_sa(
    params: CKParams,
    xi: ArrayLike,
    *,
    x0: ArrayLike | str = "best",
    passes: int = 1,
) -> FloatArray:
    """Run the robust stochastic approximation of section 4 over the samples.

    ``X_n = Proj_C(X_{n-1} - gamma g(X_{n-1}, xi^n))`` with the sample gradient
    ``g_M = h + f + theta - (lambda_u + theta) 1{A < S} + lambda_o 1{A > S}`` and
    ``g_Lk = theta + 1{xi_k > Q_k + L_k} (-(h + r_k) - (lambda_u + theta) 1{A < S}
    + lambda_o 1{A > S})``, the constant step of :func:`sa_step_size`, and the average of the
    iterates ``X_0, ..., X_{N-1}`` as the answer (in ``C``, since ``C`` is convex).

    Parameters
    ----------
    params : CKParams
        The decision.
    xi : array_like
        Outflow samples, shares, shape ``(N, K)``, used in order.
    x0 : array_like or {"best", "quantile", "equal"}
        ``X_0`` in shares (projected onto ``C``); ``"best"`` (the default): the cheapest on the
        samples of :func:`quantile_start` and the simple strategies of :func:`simple_strategies`;
        ``"quantile"``: :func:`quantile_start`; ``"equal"``: :func:`default_start`.
    passes : int
        Passes over the samples (1 is the paper's algorithm; more passes average more iterates
        with a smaller step, approaching the minimiser of the sample-average cost).

    Returns
    -------
    ndarray
        ``(M, L_1, ..., L_K)``, fractional shares, in ``C``.
    """
    if passes < 1:
        raise ConfigError(f"passes: must be >= 1, got {passes}")
    samples = np.ascontiguousarray(as_samples(xi, params.venues))
    if isinstance(x0, str):
        if x0 == "best":
            start = best_start(params, samples)
        elif x0 == "quantile":
            start = quantile_start(params, samples)
        elif x0 == "equal":
            start = default_start(params)
        else:
            raise ConfigError(f"x0: expected 'best', 'quantile', 'equal' or numbers, got {x0!r}")
    else:
        start = np.asarray(x0, dtype=np.float64)
    if start.shape != (params.venues + 1,):
        raise ConfigError(f"x0: expected {params.venues + 1} values, got {start.shape}")
    size = float(params.order_size)
    start = project_feasible(start, size)
    gamma = sa_step_size(params, samples.shape[0] * passes)
    result: FloatArray = _sa_kernel(
        samples,
        params.queue_array(),
        params.rebate_array(),
        size,
        float(params.half_spread),
        float(params.fee),
        float(params.theta),
        float(params.lambda_under),
        float(params.lambda_over),
        gamma,
        start,
        passes,
    )
    return result


@numba.njit(cache=True, nogil=True)
def _shortfall_cost(
    bought: float, size: float, under: float, over: float
) -> float:  # pragma: no cover
    """Return ``under (S - A)+ + over (A - S)+`` for ``A = bought``, dollars."""
    if bought < size:
        return under * (size - bought)
    return over * (bought - size)


@numba.njit(cache=True, nogil=True)
def _feasible(x: np.ndarray, size: int) -> bool:  # pragma: no cover - compiled
    """Tell whether whole-share ``x = (M, L)`` lies in ``C``."""
    market = x[0]
    if market < 0 or market > size:
        return False
    total = market
    for c in range(1, x.size):
        if x[c] < 0 or x[c] > size - market:
            return False
        total += x[c]
    return total >= size


@numba.njit(cache=True, nogil=True)
def _move_delta(
    ahead: np.ndarray,
    fill: np.ndarray,
    bought: np.ndarray,
    x: np.ndarray,
    move: np.ndarray,
    t: int,
    size: float,
    market_unit: float,
    fill_units: np.ndarray,
    theta: float,
    under: float,
    over: float,
) -> float:  # pragma: no cover - compiled
    """Return the change of the summed sample cost when ``x`` moves to ``x + t move``."""
    n, k = ahead.shape
    delta = n * (market_unit * move[0] * t)
    venues = np.empty(k, dtype=np.int64)  # the venues the move changes, and their new limits
    limits = np.empty(k)
    moved_count = 0
    for c in range(k):
        if move[1 + c] != 0:
            delta += n * theta * move[1 + c] * t
            venues[moved_count] = c
            limits[moved_count] = float(x[1 + c] + move[1 + c] * t)
            moved_count += 1
    for s in range(n):
        change = float(move[0] * t)
        for e in range(moved_count):
            c = venues[e]
            moved = min(ahead[s, c], limits[e]) - fill[s, c]
            change += moved
            delta -= fill_units[c] * moved
        if change != 0.0:
            b = bought[s]
            delta += _shortfall_cost(b + change, size, under, over)
            delta -= _shortfall_cost(b, size, under, over)
    return delta


@numba.njit(cache=True, nogil=True)
def _apply_move(
    ahead: np.ndarray, fill: np.ndarray, bought: np.ndarray, x: np.ndarray, move: np.ndarray, t: int
) -> None:  # pragma: no cover - compiled
    """Move ``x`` to ``x + t move`` and update the fills and the bought shares (in place)."""
    n, k = ahead.shape
    for s in range(n):
        change = float(move[0] * t)
        for c in range(k):
            if move[1 + c] != 0:
                v = min(ahead[s, c], float(x[1 + c] + move[1 + c] * t))
                change += v - fill[s, c]
                fill[s, c] = v
        bought[s] += change
    for c in range(x.size):
        x[c] += move[c] * t


@numba.njit(cache=True, nogil=True)
def _near_patterns(
    ahead: np.ndarray, bought: np.ndarray, x: np.ndarray, size: float
) -> tuple[np.ndarray, np.ndarray, int]:  # pragma: no cover - compiled
    """Group the samples whose ``A`` is within a share of ``S`` by their pattern.

    A pattern is ``A - S`` (-1, 0 or 1) and, per venue, whether ``a_nk`` is below (0), at (1)
    or above (2) ``L_k``: all a one-share move needs to know of a sample at the penalty's
    kink. Often most samples fill every order and share one pattern. Returns ``states``
    (column 0 ``A - S``, then the venues' states), the samples per pattern and the count of
    patterns. Needs ``3^(K+1) < 2^63`` (``K <= 38``).
    """
    n, k = ahead.shape
    keys = np.empty(n, dtype=np.int64)
    count = 0
    for s in range(n):
        b = bought[s]
        if abs(b - size) <= 1.0:
            key = int(b - size) + 1
            for c in range(k):
                a = ahead[s, c]
                key = key * 3 + (2 if a > x[1 + c] else (1 if a == x[1 + c] else 0))
            keys[count] = key
            count += 1
    ordered = np.sort(keys[:count])
    states = np.zeros((count, k + 1), dtype=np.int64)
    weights = np.zeros(count)
    groups = 0
    for e in range(count):
        if groups > 0 and ordered[e] == ordered[e - 1]:
            weights[groups - 1] += 1.0
            continue
        key = ordered[e]
        for c in range(k, 0, -1):
            states[groups, c] = key % 3
            key //= 3
        states[groups, 0] = key - 1
        weights[groups] = 1.0
        groups += 1
    return states, weights, groups


@numba.njit(cache=True, nogil=True)
def _escape(
    ahead: np.ndarray,
    fill: np.ndarray,
    bought: np.ndarray,
    x: np.ndarray,
    size: int,
    market_unit: float,
    fill_units: np.ndarray,
    theta: float,
    under: float,
    over: float,
    tol: float,
    move: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """Find a descending move of more than two coordinates; write it to ``move``.

    Tried where no one- or two-coordinate move descends: along the ridge where several limit
    orders sit at their cap ``L_k = S - M``, one share less for ``M`` and one more for each of
    them (and back); then every move of one share at three coordinates (two up and one
    down, two down and one up) and at two coordinates in the same direction. Returns the best
    change found (below ``-tol``), or 0 with ``move`` zero when none descends.
    """
    d = x.size
    fsize = float(size)
    trial = np.empty(d, dtype=np.int64)
    best = -tol
    found = False
    best_move = np.zeros(d, dtype=np.int64)
    capped = 0
    for c in range(1, d):
        if x[c] == size - x[0]:
            capped += 1
    if capped >= 2:
        for sign in (-1, 1):
            move[:] = 0
            move[0] = sign
            for c in range(1, d):
                if x[c] == size - x[0]:
                    move[c] = -sign
            for c in range(d):
                trial[c] = x[c] + move[c]
            if _feasible(trial, size):
                value = _move_delta(ahead, fill, bought, x, move, 1, fsize, market_unit,
                                    fill_units, theta, under, over)  # fmt: skip
                if value < best:
                    best, found = value, True
                    best_move[:] = move
    # one-share moves at three coordinates: the cost is separable over the coordinates but
    # for the samples whose A is within a share of S (the penalty's kink). Those are grouped
    # by their pattern: A - S and, per venue, whether the fill is below, at or above L_k
    # (often most samples fill every order and share one pattern)
    n, k = ahead.shape
    up = np.zeros(d)
    down = np.zeros(d)
    for s in range(n):
        b = bought[s]
        if abs(b - fsize) <= 1.0:
            continue
        slope = over if b > fsize else -under
        up[0] += slope
        down[0] -= slope
        for c in range(k):
            a = ahead[s, c]
            if a > x[1 + c]:
                up[1 + c] += slope - fill_units[c]
            if a >= x[1 + c]:
                down[1 + c] += fill_units[c] - slope
    up[0] += n * market_unit
    down[0] -= n * market_unit
    for c in range(1, d):
        up[c] += n * theta
        down[c] -= n * theta
    states, weights, groups = _near_patterns(ahead, bought, x, fsize)
    # the fills of the near samples are separable too
    for e in range(groups):
        for c in range(1, d):
            if states[e, c] == 2:
                up[c] -= weights[e] * fill_units[c - 1]
            if states[e, c] >= 1:
                down[c] += weights[e] * fill_units[c - 1]
    for i in range(d):
        for j in range(i + 1, d):
            for other in range(-1, d):
                if other in (i, j):
                    continue
                for sign in (1, -1):
                    move[:] = 0
                    move[i] = sign
                    move[j] = sign
                    if other >= 0:
                        move[other] = -sign
                    for c in range(d):
                        trial[c] = x[c] + move[c]
                    if not _feasible(trial, size):
                        continue
                    value = 0.0
                    for c in (i, j, other):
                        if c >= 0:
                            value += up[c] if move[c] > 0 else down[c]
                    for e in range(groups):
                        change = 0.0
                        for c in (i, j, other):
                            if c == 0:
                                change += move[0]
                            elif c > 0:
                                if move[c] > 0 and states[e, c] == 2:
                                    change += 1.0
                                elif move[c] < 0 and states[e, c] >= 1:
                                    change -= 1.0
                        b = fsize + states[e, 0]
                        value += weights[e] * (
                            _shortfall_cost(b + change, fsize, under, over)
                            - _shortfall_cost(b, fsize, under, over)
                        )
                    if value < best:
                        best, found = value, True
                        best_move[:] = move
    move[:] = best_move
    return best if found else 0.0


@numba.njit(cache=True, nogil=True)
def _polish_kernel(
    ahead: np.ndarray,
    start: np.ndarray,
    size: int,
    market_unit: float,
    fill_units: np.ndarray,
    theta: float,
    under: float,
    over: float,
    max_moves: int,
) -> tuple[np.ndarray, int]:  # pragma: no cover - compiled
    """Descend the sample-average cost over the whole-share points of ``C`` from ``start``.

    The moves: one share more or less to one coordinate, or one share from one coordinate to
    another (``2(K+1) + K(K+1)`` directions). With whole-share outflows and queues every fill
    and ``A`` is a whole number, so the cost is linear between whole shares along each
    direction and the change of a one-share move is its directional derivative. All of them
    come from one pass over the samples: a move up at ``i`` changes ``A_n`` by ``u_i(n)``
    (1 for ``M``, ``1{a_ni > L_i}`` for a limit), a move down at ``j`` by ``-d_j(n)`` (1 for
    ``M``, ``1{a_nj >= L_j}``), and a pair's change is the sum of the two single ones but for
    samples with ``A_n = S`` exactly, where the penalty's kink adds ``lambda_u + theta +
    lambda_o`` when both move. Each step follows the steepest descending move, doubling its
    length while the cost keeps falling (each trial ``O(N)``), and the descent stops when no
    move descends (or after ``max_moves`` steps). ``ahead`` is ``max(xi - Q, 0)``;
    ``market_unit`` is ``h + f + theta``, ``fill_units`` ``h + r_k``, ``under`` ``lambda_u +
    theta``, ``over`` ``lambda_o``. Returns the point reached and the steps taken.
    """
    n, k = ahead.shape
    d = k + 1
    x = start.copy()
    fill = np.empty((n, k))
    bought = np.empty(n)
    for s in range(n):
        b = float(x[0])
        for c in range(k):
            v = min(ahead[s, c], float(x[1 + c]))
            fill[s, c] = v
            b += v
        bought[s] = b
    fsize = float(size)
    tol = 1e-9 * max(fsize, 1.0) * n
    kink = under + over
    up = np.empty(d)
    down = np.empty(d)
    pair = np.empty((d, d))
    trial = np.empty(d, dtype=np.int64)
    move = np.zeros(d, dtype=np.int64)
    steps = 0
    while steps < max_moves:
        # one-share changes of the summed cost, every direction at once
        up[0] = n * market_unit
        down[0] = -n * market_unit
        for c in range(1, d):
            up[c] = n * theta
            down[c] = -n * theta
        pair[:, :] = 0.0
        for s in range(n):
            b = bought[s]
            gain_up = over if b >= fsize else -under  # G(A + 1) - G(A)
            gain_down = under if b <= fsize else -over  # G(A - 1) - G(A)
            up[0] += gain_up
            down[0] += gain_down
            for c in range(k):
                a = ahead[s, c]
                if a > x[1 + c]:
                    up[1 + c] += gain_up - fill_units[c]
                if a >= x[1 + c]:
                    down[1 + c] += gain_down + fill_units[c]
        states, weights, groups = _near_patterns(ahead, bought, x, fsize)
        for e in range(groups):
            if states[e, 0] != 0:
                continue
            for i in range(d):
                if i == 0 or states[e, i] == 2:
                    for j in range(d):
                        if j == 0 or states[e, j] >= 1:
                            pair[i, j] += kink * weights[e]
        best = -tol
        best_i = -1
        best_j = -1
        for i in range(d):
            for j in range(-1, d):
                if j == i:
                    continue
                for c in range(d):
                    trial[c] = x[c]
                trial[i] += 1
                if j >= 0:
                    trial[j] -= 1
                    value = up[i] + down[j] - pair[i, j]
                else:
                    value = up[i]
                if value < best and _feasible(trial, size):
                    best, best_i, best_j = value, i, j
                if j == -1:
                    trial[i] -= 2  # one share less at i alone
                    if down[i] < best and _feasible(trial, size):
                        best, best_i, best_j = down[i], -1, i
        move[:] = 0
        if best_i >= 0:
            move[best_i] = 1
        if best_j >= 0:
            move[best_j] = -1
        if best_i < 0 and best_j < 0:
            best = _escape(ahead, fill, bought, x, size, market_unit, fill_units, theta,
                           under, over, tol, move)  # fmt: skip
            if best >= 0.0:
                break
        # the longest doubling of the move that keeps lowering the cost
        length = 1
        gain = best
        while True:
            longer = 2 * length
            for c in range(d):
                trial[c] = x[c] + longer * move[c]
            if not _feasible(trial, size):
                break
            value = _move_delta(ahead, fill, bought, x, move, longer, fsize, market_unit,
                                fill_units, theta, under, over)  # fmt: skip
            if value >= gain:
                break
            length, gain = longer, value
        _apply_move(ahead, fill, bought, x, move, length)
        steps += 1
    return x, steps


POLISH_MAX_MOVES = 1_000_000
POLISH_MAX_VENUES = 38


def polish(x: ArrayLike, params: CKParams, xi: ArrayLike) -> tuple[IntArray, int]:
    """Improve a whole-share allocation in ``C`` by exact descent of the sample-average cost.

    The stochastic approximation stops short of the optimum of the samples by its step and by
    averaging early iterates; the sample-average cost is piecewise linear, so a descent over
    whole shares (:func:`_polish_kernel`: a share more or less at one coordinate, or shares
    moved from one coordinate to another, steepest first) lands on a point that no such move
    improves. Never returns a costlier point than ``x``. Returns the allocation and the
    number of descent steps; beyond ``POLISH_MAX_VENUES`` venues, ``x`` unchanged.
    """
    samples = np.ascontiguousarray(as_samples(xi, params.venues))
    start = np.asarray(x, dtype=np.int64).reshape(-1)
    if start.shape != (params.venues + 1,):
        raise ConfigError(f"allocation: expected {params.venues + 1} whole shares")
    if params.venues > POLISH_MAX_VENUES:
        return start.copy(), 0  # the kink patterns' keys would not fit 63 bits
    ahead = np.ascontiguousarray(np.maximum(samples - params.queue_array(), 0.0))
    h = float(params.half_spread)
    out, moves = _polish_kernel(
        ahead,
        start,
        int(params.order_size),
        h + float(params.fee) + float(params.theta),
        np.ascontiguousarray(h + params.rebate_array()),
        float(params.theta),
        float(params.lambda_under) + float(params.theta),
        float(params.lambda_over),
        POLISH_MAX_MOVES,
    )
    result: IntArray = out.astype(np.int64)
    return result, int(moves)


def round_to_shares(x: ArrayLike, order_size: int) -> IntArray:
    """Round an allocation in ``C`` to whole shares, staying in ``C``.

    Each ``L_k`` and ``M`` goes to the nearest whole share, ``M`` is clipped to ``[0, S]`` and
    each ``L_k`` to ``[0, S - M]``; if rounding left ``M + sum L < S``, ``M`` takes the
    difference (at most ``(K + 1) / 2`` shares; then ``L_k <= sum L = S - M`` still holds).

    Returns
    -------
    ndarray of int64
        ``(M, L_1, ..., L_K)``, whole shares, in ``C``.
    """
    vec = np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)
    market = min(max(int(vec[0]), 0), order_size)
    limits = np.clip(vec[1:], 0, order_size - market)
    if market + int(limits.sum()) < order_size:
        market = order_size - int(limits.sum())
    out: IntArray = np.concatenate((np.array([market], dtype=np.int64), limits))
    return out


@dataclass(frozen=True)
class Solution:
    """A whole-share allocation and how it was found.

    Attributes
    ----------
    allocation : ndarray of int64
        ``(M, L_1, ..., L_K)``, whole shares, in ``C``.
    cost : float
        Its sample-average cost ``V``, dollars for the whole order.
    method : str
        ``"closed_form"`` (one venue) or ``"stochastic_approximation"``.
    fallback : str or None
        The simple strategy returned instead, when it cost less than the method's answer.
    strategies : dict of str to float
        The sample-average cost of each simple strategy, dollars.
    strategy_allocations : dict of str to ndarray of int64
        Each simple strategy's allocation.
    polish_moves : int
        Moves :func:`polish` took from the method's rounded answer (0 for the closed form).
    method_cost : float
        The sample-average cost of the method's rounded answer before the polish, dollars.
    """

    allocation: IntArray
    cost: float
    method: str
    fallback: str | None
    strategies: dict[str, float]
    strategy_allocations: dict[str, IntArray]
    polish_moves: int = 0
    method_cost: float = math.nan


def solve(params: CKParams, xi: ArrayLike, *, passes: int = 1) -> Solution:
    """Return the optimal whole-share allocation for the samples.

    One venue: :func:`closed_form_one_venue`, the exact minimiser of the sample average.
    Several venues: :func:`solve_sa` (the paper's algorithm), :func:`round_to_shares`, then
    :func:`polish`, which descends to a point no one- or two-coordinate move improves. As a
    safeguard, the answer is compared on the same samples with the simple strategies of
    :func:`simple_strategies`, and the cheapest is returned (ties keep the method's answer).
    """
    samples = np.ascontiguousarray(as_samples(xi, params.venues))
    simple = simple_strategies(params, samples)
    moves = 0
    if params.venues == 1:
        placement = closed_form_one_venue(params, samples)
        allocation = round_to_shares(np.rint(placement.vector()), params.order_size)
        method = "closed_form"
        method_cost = expected_cost(allocation, params, samples)
    else:
        start = best_start(params, samples, simple)
        x = solve_sa(params, samples, x0=start, passes=passes)
        rounded = round_to_shares(x, params.order_size)
        method_cost = expected_cost(rounded, params, samples)
        allocation, moves = polish(rounded, params, samples)
        method = "stochastic_approximation"
    cost = expected_cost(allocation, params, samples)
    fallback = None
    for name, (candidate, candidate_cost) in simple.items():
        if candidate_cost < cost:
            allocation, cost, fallback = candidate, candidate_cost, name
    costs = {name: c for name, (_, c) in simple.items()}
    allocations = {name: x for name, (x, _) in simple.items()}
    return Solution(allocation, cost, method, fallback, costs, allocations, moves, method_cost)


def poisson_factor_outflows(
    rng: np.random.Generator,
    count: int,
    venues: int,
    mean: float,
    common_weight: float,
) -> FloatArray:
    """Draw outflows ``xi_k = a xi_0 + (1 - a) eps_k`` rounded to whole shares.

    ``xi_0`` (common to all venues) and ``eps_k`` are i.i.d. Poisson with mean ``m``; the
    paper's section 5.1 uses ``a = 0.6`` and ``m = 2200``. The mixture is rounded to the
    nearest whole share (ties to even), so fills and queues stay in whole shares; the rounding
    moves each outflow by at most half a share and the mean by a negligible amount.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (seeded by the caller for reproducibility).
    count : int
        ``N``, samples to draw.
    venues : int
        ``K``.
    mean : float
        ``m``, mean outflow per horizon, shares.
    common_weight : float
        ``a`` in ``[0, 1]``.

    Returns
    -------
    ndarray
        Shape ``(N, K)``, whole shares stored as floats.
    """
    common = rng.poisson(mean, size=count).astype(np.float64)
    own = rng.poisson(mean, size=(count, venues)).astype(np.float64)
    mixed: FloatArray = np.rint(common_weight * common[:, None] + (1.0 - common_weight) * own)
    return mixed
