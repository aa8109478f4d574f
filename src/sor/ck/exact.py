"""Exact expected cost ``V(X)`` under the Poisson factor outflow model, without sampling.

Under ``xi_k = rint(a xi_0 + (1 - a) eps_k)`` with ``xi_0`` and ``eps_k`` i.i.d. Poisson(m)
(the model of :func:`sor.ck.model.poisson_factor_outflows` and of the paper's section
5.1), the venues' outflows are independent once ``xi_0`` is known. So, for each value of
``xi_0``, each limit order's fill has a distribution on ``0..L_k`` computed from the Poisson
law of ``eps_k``, the total fill's distribution is their convolution (by FFT), and the
expectations in ``V(X)`` (fills, shortfall ``(S - A)+``, excess ``(A - S)+``) follow; the
result is their average over the Poisson law of ``xi_0``.

This is the figure that a sample average estimates: the sampled costs of ``sor place`` (and
the paper's Table 1, itself a simulation) should agree with it to within sampling error.
Poisson tails beyond ``TAIL`` in probability are left out (their mass is below 1e-14).
"""

from __future__ import annotations

import math

import numpy as np

from sor.ck.model import CKParams, FloatArray
from sor.core.errors import ConfigError

TAIL = 1e-16


def poisson_support(mean: float) -> tuple[FloatArray, FloatArray]:
    """Return the values ``k`` of a Poisson(``mean``) law holding all but ``TAIL`` of its mass,
    and their probabilities (renormalised to sum to 1).
    """
    if not mean > 0 or not math.isfinite(mean):
        raise ConfigError(f"poisson mean must be a finite number > 0, got {mean}")
    spread = 12.0 * math.sqrt(mean) + 40.0
    lo = max(0, math.floor(mean - spread))
    hi = math.ceil(mean + spread)
    ks = np.arange(lo, hi + 1, dtype=np.float64)
    log_fact = np.array([math.lgamma(k + 1.0) for k in ks])
    pmf = np.exp(ks * math.log(mean) - mean - log_fact)
    keep = pmf > TAIL
    ks, pmf = ks[keep], pmf[keep]
    return ks, pmf / pmf.sum()


def _fill_pmfs(
    common: FloatArray, own: FloatArray, own_pmf: FloatArray, weight: float, queue: int, limit: int
) -> FloatArray:
    """Return, for each value of ``xi_0``, the law of one limit order's fill: ``(C, limit + 1)``."""
    xi = np.rint(weight * common[:, None] + (1.0 - weight) * own[None, :])
    fill = np.clip(xi - queue, 0, limit).astype(np.int64)
    rows = np.arange(common.size, dtype=np.int64)[:, None] * (limit + 1)
    flat = np.bincount(
        (rows + fill).ravel(),
        weights=np.broadcast_to(own_pmf, fill.shape).ravel(),
        minlength=common.size * (limit + 1),
    )
    out: FloatArray = flat.reshape(common.size, limit + 1).astype(np.float64, copy=False)
    return out


def exact_cost(x: np.ndarray, params: CKParams, mean: float, common_weight: float) -> float:
    """Return ``V(X)``, dollars for the whole order, under the Poisson factor model exactly.

    Parameters
    ----------
    x : ndarray
        ``(M, L_1, ..., L_K)`` in whole shares.
    params : CKParams
        The decision's parameters (queues in whole shares).
    mean : float
        ``m``, the Poisson mean of ``xi_0`` and of each ``eps_k``, shares.
    common_weight : float
        ``a`` in ``[0, 1]``.
    """
    vec = np.asarray(x, dtype=np.float64).reshape(-1)
    if vec.size != params.venues + 1 or np.any(vec < 0) or np.any(vec != np.rint(vec)):
        raise ConfigError(f"allocation: expected {params.venues + 1} whole shares >= 0, got {vec}")
    if not 0.0 <= common_weight <= 1.0:
        raise ConfigError(f"common_weight must be in [0, 1], got {common_weight}")
    queues = params.queue_array()
    if np.any(queues != np.rint(queues)):
        raise ConfigError("exact cost: queues must be whole shares")
    market = int(vec[0])
    limits = [int(v) for v in vec[1:]]
    common, common_pmf = poisson_support(mean)
    own, own_pmf = poisson_support(mean)
    width = sum(limits) + 1
    size = 1 << max(0, (width - 1).bit_length())
    spectrum = np.ones((common.size, size // 2 + 1), dtype=np.complex128)
    rewards = 0.0  # sum_k (h + r_k) E[fill_k]
    h = params.half_spread
    for k, limit in enumerate(limits):
        if limit == 0:
            continue
        law = _fill_pmfs(common, own, own_pmf, common_weight, int(queues[k]), limit)
        mean_fill = law @ np.arange(limit + 1, dtype=np.float64)
        rewards += (h + params.rebates[k]) * float(common_pmf @ mean_fill)
        spectrum *= np.fft.rfft(law, n=size, axis=1)
    total = np.fft.irfft(spectrum, n=size, axis=1)[:, :width]
    total_law = np.clip(common_pmf @ total, 0.0, None)  # law of the total fill
    total_law /= total_law.sum()
    bought = market + np.arange(width, dtype=np.float64)
    short = float(total_law @ np.maximum(params.order_size - bought, 0.0))
    over = float(total_law @ np.maximum(bought - params.order_size, 0.0))
    return (
        (h + params.fee) * market
        - rewards
        + params.theta * (market + sum(limits) + short)
        + params.lambda_under * short
        + params.lambda_over * over
    )


def exact_cents_per_share(
    x: np.ndarray, params: CKParams, mean: float, common_weight: float
) -> float:
    """Return :func:`exact_cost` as cents per share of the order, from the mid."""
    return 100.0 * exact_cost(x, params, mean, common_weight) / params.order_size
