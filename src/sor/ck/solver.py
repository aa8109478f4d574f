"""The whole-share answer of the full Cont-Kukanov model (:func:`solve`).

One venue: the closed form of Proposition 3 (:mod:`sor.ck.model`). Several: the stochastic
approximation (:mod:`sor.ck.sa`) rounded to whole shares, then the exact polish
(:mod:`sor.ck.polish`); never costlier on the samples than the paper's simple allocations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from sor.ck.model import CKParams, IntArray, as_samples, closed_form_one_venue, expected_cost
from sor.ck.polish import polish
from sor.ck.sa import best_start, round_to_shares, simple_strategies, solve_sa


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
