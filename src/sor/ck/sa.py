"""The robust stochastic approximation of the paper's section 4, for any number of venues.

:func:`solve_sa` runs a compiled loop that projects every iterate onto the feasible set ``C``
exactly (:func:`project_feasible`) and returns the average of the iterates;
:func:`round_to_shares` rounds it to whole shares inside ``C``. The paper's simple allocations
(:func:`simple_strategies`: market order, single limit order, equal split) and the starting
points live here too. The model is :mod:`sor.ck.model`.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import ArrayLike

from sor.ck.model import (
    CKParams,
    FloatArray,
    IntArray,
    as_samples,
    critical_ratio,
    expected_costs,
    quantile_limit,
)
from sor.core.errors import ConfigError


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
            quantile_limit(ordered[:, k], critical_ratio(params, k), q, params.order_size)
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
