"""An exact descent of the sample-average cost over whole shares (:func:`polish`).

The cost is piecewise linear and, with whole-share outflows and queues, linear between whole
shares along any move of whole shares; from the stochastic approximation's rounded answer the
descent takes one-share changes at one or two coordinates, the three-coordinate moves at the
penalty's kink and the ridge where every limit order sits at its cap, steepest first, each
move's length doubled while the cost falls, until no move improves. The model is
:mod:`sor.ck.model`.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import ArrayLike

from sor.ck.model import CKParams, IntArray, as_samples
from sor.core.errors import ConfigError


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
def _copy(source: np.ndarray, target: np.ndarray) -> None:  # pragma: no cover - compiled
    """Copy ``source`` into ``target`` of the same length, element by element (a slice
    assignment would compile numba's shape-mismatch error, seconds of a first run)."""
    for c in range(source.size):
        target[c] = source[c]


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
                    _copy(move, best_move)
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
                        _copy(move, best_move)
    _copy(best_move, move)
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
