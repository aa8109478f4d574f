"""The full Cont-Kukanov placement model: its parameters, its cost and the one-venue closed form.


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
feasible set).

This module gives :func:`cost_samples` and :func:`expected_cost` (``v`` per sample and its
sample average ``V``, vectorised), :func:`cost_breakdown` (fees, impact and penalties, with
fill statistics: the paper's second table), :func:`closed_form_one_venue` (Proposition 3 for
``K = 1``, the exact minimiser of the sample-average cost over ``C``) and
:func:`poisson_factor_outflows` (the section 5.1 outflow model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    ahead = np.maximum(samples - params.queue_array(), 0.0)
    fees, impact, penalties, short, over = _parts(vec.reshape(-1, params.venues + 1), params, ahead)
    return fees, impact, penalties, short, over, vec.ndim == 1


def _parts(
    xs: FloatArray, params: CKParams, ahead: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return :func:`_cost_parts` of the allocations ``xs`` (shape ``(C, K + 1)``), given
    ``ahead = max(xi - Q, 0)``, the outflow beyond each queue, shares, shape ``(N, K)``."""
    market = xs[:, :1]
    limits = xs[:, 1:]
    filled = np.minimum(ahead[None, :, :], limits[:, None, :])
    bought = market + filled.sum(axis=2)
    short = np.maximum(params.order_size - bought, 0.0)
    over = np.maximum(bought - params.order_size, 0.0)
    h = params.half_spread
    fees = (h + params.fee) * market - filled @ (h + params.rebate_array())
    impact = params.theta * (market + limits.sum(axis=1, keepdims=True) + short)
    penalties = params.lambda_under * short + params.lambda_over * over
    return fees, impact, penalties, short, over


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


COST_CHUNK_CELLS = 4_000_000
"""Most allocation x sample x venue values :func:`expected_costs` holds at once (32 MB)."""


def expected_costs(xs: ArrayLike, params: CKParams, xi: ArrayLike) -> FloatArray:
    """Return ``V(X)`` for each allocation (row) of ``xs``, dollars, shape ``(C,)``.

    The allocations are costed a few at a time, so that memory stays near
    ``COST_CHUNK_CELLS`` values however many there are (a start per venue has ``C = K + 3``,
    which at once would take ``C N K`` values).
    """
    rows = np.asarray(xs, dtype=np.float64).reshape(-1, params.venues + 1)
    ahead = np.maximum(as_samples(xi, params.venues) - params.queue_array(), 0.0)
    chunk = max(COST_CHUNK_CELLS // ahead.size, 1)
    out: FloatArray = np.empty(rows.shape[0])
    for start in range(0, rows.shape[0], chunk):
        fees, impact, penalties, _, _ = _parts(rows[start : start + chunk], params, ahead)
        out[start : start + chunk] = (fees + impact + penalties).mean(axis=1)
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
        limit = quantile_limit(ordered, critical_ratio(params), params.queues[0], size)
    else:
        # the right derivative does not increase: the cost is concave in L, the better end wins
        ends = np.array([[size, 0.0], [0.0, size]])
        costs = expected_costs(ends, params, samples)
        limit = float(size) if costs[1] < costs[0] else 0.0
    return Placement(float(size) - limit, (limit,))


def quantile_limit(ordered: FloatArray, c: float, queue: float, size: int) -> float:
    """Return ``F^-1(c) - Q`` clipped to ``[0, S]`` for sorted samples ``ordered``, shares."""
    if c > 1.0:
        return float(size)
    if c <= 0.0:
        return 0.0
    # smallest sample x with F(x) = #{xi <= x} / N >= c; the 1e-12 guards c * N landing a hair
    # above an integer through rounding
    rank = max(math.ceil(c * ordered.size - 1e-12), 1)
    return min(max(float(ordered[rank - 1]) - queue, 0.0), float(size))


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
