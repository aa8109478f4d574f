"""The reference optimisers of tests/placement_optimum.py against each other (not the product)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import placement_optimum as opt

TOL = 1e-9


def _instance(seed: int, venues: int, size: int, samples: int, tight: bool) -> dict[str, Any]:
    """A small random decision with whole-share outflows; ``tight`` picks ``lam_o <= h + r``."""
    rng = np.random.default_rng(seed)
    h = 0.02
    rebates = rng.uniform(-0.008, 0.006, venues)
    floor = float(np.min(h + rebates))
    lam_o = rng.uniform(0.0, floor) if tight else rng.uniform(floor + 0.002, 0.08)
    queues = rng.integers(0, size + 1, venues).astype(np.float64)
    # Outflows around the queues so that fills are partial, certain and absent in turn.
    xi = queues + rng.integers(-size // 2, 3 * size // 2 + 1, (samples, venues))
    return {
        "S": size,
        "h": h,
        "f": float(rng.uniform(0.0, 0.01)),
        "theta": float(rng.uniform(0.0, 0.002)),
        "lam_u": float(rng.uniform(0.0, 0.1)),
        "lam_o": float(lam_o),
        "queues": queues,
        "rebates": rebates,
        "xi": np.maximum(xi, 0).astype(np.float64),
    }


def _cases(tight: bool) -> list[tuple[int, int, int, int, bool]]:
    """``(seed, K, S, N, tight)``: 1 to 3 venues, lattices of at most a few thousand points."""
    sizes = {1: 40, 2: 14, 3: 7}
    return [
        (seed, 1 + seed % 3, sizes[1 + seed % 3], 3 + 7 * seed % 23, tight) for seed in range(9)
    ]


CASES = _cases(True) + _cases(False)


@pytest.mark.parametrize(("seed", "venues", "size", "samples", "tight"), CASES)
def test_the_references_agree(seed: int, venues: int, size: int, samples: int, tight: bool) -> None:
    params = _instance(seed, venues, size, samples, tight)
    assert opt.relaxation_is_tight(params["h"], params["lam_o"], params["rebates"]) is tight
    x_ex, v_ex = opt.exhaustive_optimum(**params)
    assert v_ex == pytest.approx(opt.sample_average_cost(x_ex, **params), abs=TOL)
    for formulation in ("incremental", "bigm"):
        x_mi, v_mi = opt.milp_optimum(**params, formulation=formulation)
        assert v_mi == pytest.approx(v_ex, abs=TOL), formulation
        assert x_mi[0] + x_mi[1:].sum() >= size and np.all(x_mi[0] + x_mi[1:] <= size)
    x_lp, v_lp = opt.lp_optimum(**params)
    assert v_lp <= v_ex + TOL
    _, v_int = opt.lp_optimum(**params, integral=True)
    assert v_lp - TOL <= v_int <= v_ex + TOL
    if tight:
        # The relaxation is the continuous problem: its X costs its value, and with whole
        # M, L_k it is the whole-share problem.
        assert opt.sample_average_cost(x_lp, **params) == pytest.approx(v_lp, abs=TOL)
        assert v_int == pytest.approx(v_ex, abs=TOL)
        if np.allclose(x_lp, np.rint(x_lp), atol=1e-7):
            assert v_lp == pytest.approx(v_ex, abs=TOL)


@pytest.mark.parametrize("seed", range(4))
def test_the_milp_is_exact_when_a_fill_costs_money(seed: int) -> None:
    """``h + r_0 < 0``: a fill at venue 0 loses money, the fill binaries still pin it."""
    params = _instance(100 + seed, 2, 12, 12, False)
    params["rebates"] = np.array([-0.03, params["rebates"][1]])
    assert params["h"] + params["rebates"][0] < 0
    _, v_ex = opt.exhaustive_optimum(**params)
    for formulation in ("incremental", "bigm"):
        _, v_mi = opt.milp_optimum(**params, formulation=formulation)
        assert v_mi == pytest.approx(v_ex, abs=TOL), formulation
    _, v_lp = opt.lp_optimum(**params)
    assert v_lp <= v_ex + TOL


def test_the_continuous_optimum_can_be_fractional_when_tight() -> None:
    """A tight instance whose relaxation (= continuous optimum) sits at half shares."""
    params = {
        "S": 4,
        "h": 0.02,
        "f": 0.002315665427478377,
        "theta": 0.00964920621340461,
        "lam_u": 0.12527030449700466,
        "lam_o": 0.012633004455339904,
        "queues": np.array([2.0, 2.0, 3.0, 2.0]),
        "rebates": np.array([-0.00342126, 0.00143577, -0.00042847, -0.00021231]),
        "xi": np.array([[2.0, 7.0, 3.0, 7.0], [4.0, 2.0, 8.0, 5.0], [7.0, 4.0, 5.0, 3.0]]),
    }
    assert opt.relaxation_is_tight(params["h"], params["lam_o"], params["rebates"])
    x_lp, v_lp = opt.lp_optimum(**params)
    assert opt.sample_average_cost(x_lp, **params) == pytest.approx(v_lp, abs=TOL)
    _, v_ex = opt.exhaustive_optimum(**params)
    # Every optimum of the relaxation is fractional (HiGHS finds (0, 0, 1.5, 1.5, 2.5)).
    assert v_ex > v_lp + 1e-3
    assert not np.allclose(x_lp, np.rint(x_lp), atol=1e-6)
    _, v_mi = opt.milp_optimum(**params)
    _, v_int = opt.lp_optimum(**params, integral=True)
    assert v_mi == pytest.approx(v_ex, abs=TOL)
    assert v_int == pytest.approx(v_ex, abs=TOL)


def test_the_relaxation_is_loose_above_the_critical_penalty() -> None:
    """With ``lam_o > h + r`` the relaxation declines fills that would over-fill."""
    # S = 10 at two venues with empty queues; one sample fills one venue, another the other,
    # the third both.  X = (0, 10, 10) over-fills the third by 10 shares; the relaxation drops
    # those fills (saving lam_o - h - r = 0.028 a share), the true problem cannot.
    params = {
        "S": 10,
        "h": 0.02,
        "f": 0.003,
        "theta": 0.0,
        "lam_u": 0.05,
        "lam_o": 0.05,
        "queues": np.array([0.0, 0.0]),
        "rebates": np.array([0.002, 0.002]),
        "xi": np.array([[10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]),
    }
    _, v_lp = opt.lp_optimum(**params)
    _, v_ex = opt.exhaustive_optimum(**params)
    _, v_mi = opt.milp_optimum(**params)
    assert v_mi == pytest.approx(v_ex, abs=TOL)
    assert v_ex == pytest.approx((-0.22 - 0.22 + 0.06) / 3, abs=TOL)
    assert v_lp == pytest.approx(-0.22, abs=TOL)


def test_sample_average_cost_by_hand() -> None:
    # S = 10, M = 2, L = (5, 6); fills (5, 0) then (3, 6): A = 7 then 11.
    params = {
        "S": 10,
        "h": 0.02,
        "f": 0.003,
        "theta": 0.001,
        "lam_u": 0.05,
        "lam_o": 0.04,
        "queues": np.array([10.0, 20.0]),
        "rebates": np.array([0.002, -0.001]),
        "xi": np.array([[17.0, 12.0], [13.0, 30.0]]),
    }
    first = 0.023 * 2 - 0.022 * 5 + 0.001 * (13 + 3) + 0.05 * 3
    second = 0.023 * 2 - 0.022 * 3 - 0.019 * 6 + 0.001 * 13 + 0.04 * 1
    got = opt.sample_average_cost([2, 5, 6], **params)
    assert got == pytest.approx((first + second) / 2, abs=1e-12)


def test_lattice_size_counts_the_feasible_points() -> None:
    for size, venues in [(1, 1), (5, 1), (4, 2), (3, 3)]:
        grid = np.indices((size + 1,) * (venues + 1)).reshape(venues + 1, -1).T
        market, limits = grid[:, :1], grid[:, 1:]
        feasible = np.all(limits <= size - market, axis=1) & (grid.sum(axis=1) >= size)
        assert opt.lattice_size(size, venues) == int(feasible.sum())


def test_refusals() -> None:
    params = _instance(0, 3, 100, 5, True)
    with pytest.raises(ValueError, match="max_points"):
        opt.exhaustive_optimum(**params)
    with pytest.raises(ValueError, match="lam_o"):
        opt.lp_optimum(**{**params, "lam_o": -0.01})
    with pytest.raises(ValueError, match="shape"):
        opt.milp_optimum(**{**params, "xi": np.zeros((4, 2))})
