"""The full Cont-Kukanov solver: cost, closed form, stochastic approximation and ``sor place``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from sor.ck import model
from sor.ck.model import (
    CKParams,
    cents_per_share,
    closed_form_one_venue,
    cost_breakdown,
    cost_samples,
    critical_ratio,
    expected_cost,
    expected_costs,
    poisson_factor_outflows,
)
from sor.ck.place import load_problem, parse_problem, place
from sor.ck.sa import (
    equal_split,
    project_feasible,
    round_to_shares,
    sa_step_size,
    simple_strategies,
    solve_sa,
)
from sor.ck.solver import solve
from sor.cli.place import place as place_command
from sor.core.errors import ConfigError

# the paper's section 5.1 costs, $/share
PAPER = {
    "half_spread": 0.02,
    "fee": 0.003,
    "theta": 0.0005,
    "lambda_under": 0.05,
    "lambda_over": 0.05,
}


def _params(
    size: int, venues: int, queue: int = 2000, rebate: float = 0.002, **kw: float
) -> CKParams:
    costs = {**PAPER, **kw}
    return CKParams(
        order_size=size,
        half_spread=costs["half_spread"],
        fee=costs["fee"],
        theta=costs["theta"],
        lambda_under=costs["lambda_under"],
        lambda_over=costs["lambda_over"],
        queues=(queue,) * venues,
        rebates=(rebate,) * venues,
    )


def _problem(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_size": 1000,
        **PAPER,
        "venues": [{"queue": 2000, "rebate": 0.002}, {"queue": 1500, "rebate": 0.001}],
        "outflow": {"model": "poisson_factor", "mean": 2200, "common_weight": 0.6},
        "samples": 500,
        "seed": 7,
    }
    data.update(overrides)
    return data


# --- the cost function -------------------------------------------------------------------------


def test_cost_matches_a_hand_computation() -> None:
    params = CKParams(1000, 0.02, 0.003, 0.0005, 0.05, 0.05, (100, 200), (0.002, 0.001))
    x = [300, 500, 400]
    xi = np.array([[400.0, 250.0], [1000.0, 1000.0], [600.0, 200.0]])
    # fills (300, 50): 650 bought, 350 short; fills (500, 400): 200 over; fills (500, 0): 200 short
    expected = [
        0.023 * 300 - 0.022 * 300 - 0.021 * 50 + 0.0005 * (1200 + 350) + 0.05 * 350,
        0.023 * 300 - 0.022 * 500 - 0.021 * 400 + 0.0005 * 1200 + 0.05 * 200,
        0.023 * 300 - 0.022 * 500 + 0.0005 * (1200 + 200) + 0.05 * 200,
    ]
    assert cost_samples(x, params, xi) == pytest.approx(expected, abs=1e-12)
    assert expected_cost(x, params, xi) == pytest.approx(np.mean(expected), abs=1e-12)
    assert cents_per_share(x, params, xi) == pytest.approx(np.mean(expected) / 10, abs=1e-12)
    both = cost_samples([x, [1000, 0, 0]], params, xi)
    assert both.shape == (2, 3)
    assert both[1] == pytest.approx([23.5] * 3)  # (h + f + theta) * S, whatever the outflow
    assert expected_costs([x, x], params, xi) == pytest.approx([np.mean(expected)] * 2)


def test_expected_costs_in_chunks_match_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # a start per venue is K + 3 allocations: costed at once they took C x N x K values (8 GB
    # at 1,000 venues); in chunks of at most COST_CHUNK_CELLS the figures stay the same
    params = _params(1000, 4)
    xi = poisson_factor_outflows(np.random.default_rng(3), 50, 4, 2200.0, 0.6)
    rows = np.random.default_rng(4).integers(0, 1000, size=(7, 5)).astype(np.float64)
    at_once = expected_costs(rows, params, xi)
    monkeypatch.setattr(model, "COST_CHUNK_CELLS", 2 * xi.size)  # two allocations a chunk
    in_chunks = expected_costs(rows, params, xi)
    one_by_one = [expected_cost(row, params, xi) for row in rows]
    assert in_chunks.tolist() == at_once.tolist() == one_by_one


def test_cost_rejects_bad_shapes() -> None:
    params = _params(100, 2)
    with pytest.raises(ConfigError, match="allocation"):
        cost_samples([1, 2], params, np.zeros((3, 2)))
    with pytest.raises(ConfigError, match="expected shape"):
        cost_samples([1, 2, 3], params, np.zeros((3, 3)))
    with pytest.raises(ConfigError, match=">= 0"):
        cost_samples([1, 2, 3], params, -np.ones((3, 2)))


# --- Proposition 3 -----------------------------------------------------------------------------


def _two_point(low: float, high: float, p_low: float, count: int = 1000) -> np.ndarray:
    rows = round(p_low * count)
    return np.array([low] * rows + [high] * (count - rows)).reshape(-1, 1)


def test_closed_form_interior_solution() -> None:
    params = _params(1000, 1)
    assert critical_ratio(params) == pytest.approx(0.045 / 0.0725)
    # F(Q + 100) = 0.3 < c = 0.62 <= F(Q + 400) = 1: L* = 400
    placement = closed_form_one_venue(params, _two_point(2100, 2400, 0.3))
    assert placement.as_int() == (600, (400,))


def test_closed_form_market_order_alone_when_lambda_u_is_high() -> None:
    xi = _two_point(1950, 2400, 0.8)  # F(Q) = 0.8
    # market alone iff lambda_u >= (2h + f + r) / F(Q) - (h + r + theta) = 0.03375
    assert closed_form_one_venue(_params(1000, 1), xi).as_int() == (1000, (0,))
    assert closed_form_one_venue(_params(1000, 1, lambda_under=0.034), xi).as_int() == (1000, (0,))
    assert closed_form_one_venue(_params(1000, 1, lambda_under=0.033), xi).as_int() == (600, (400,))


def test_closed_form_limit_order_alone_when_lambda_u_is_low() -> None:
    params = _params(1000, 1, lambda_under=0.01)  # c > 1: lambda_u < h + f - theta
    assert critical_ratio(params) > 1
    xi = poisson_factor_outflows(np.random.default_rng(0), 500, 1, 2200, 0.6)
    assert closed_form_one_venue(params, xi).as_int() == (0, (1000,))


def test_closed_form_is_the_exact_minimiser_on_the_segment() -> None:
    size = 600
    params = _params(size, 1)
    xi = poisson_factor_outflows(np.random.default_rng(3), 500, 1, 2200, 0.6)
    limits = np.arange(size + 1)
    grid = np.column_stack((size - limits, limits))
    costs = expected_costs(grid, params, xi)
    best = closed_form_one_venue(params, xi)
    assert expected_cost(best.vector(), params, xi) == pytest.approx(costs.min(), abs=1e-9)
    assert best.limits[0] == limits[np.argmin(costs)]


def test_closed_form_needs_one_venue() -> None:
    with pytest.raises(ConfigError, match="one venue"):
        closed_form_one_venue(_params(100, 2), np.zeros((5, 2)))


# --- the stochastic approximation against the closed form --------------------------------------

SIZE = 1000
QUEUE = 2000


def _outflow(name: str) -> np.ndarray:
    rng = np.random.default_rng(11)
    count = 2000
    if name == "poisson_factor":
        return poisson_factor_outflows(rng, count, 1, 2200, 0.6)
    if name == "uniform":
        return rng.integers(QUEUE - 200, QUEUE + 801, (count, 1)).astype(np.float64)
    if name == "two_point":
        return np.where(rng.random((count, 1)) < 0.3, QUEUE + 100.0, QUEUE + 400.0)
    if name == "empirical":
        observed = np.array([1800, 1950, 2010, 2050, 2120, 2150, 2230, 2290, 2300, 2410, 2500])
        return rng.choice(observed.astype(np.float64), (count, 1))
    assert name == "lognormal"
    return np.rint(QUEUE * np.exp(rng.normal(0.1, 0.15, (count, 1))))


@pytest.mark.parametrize(
    "name", ["poisson_factor", "uniform", "two_point", "empirical", "lognormal"]
)
@pytest.mark.parametrize(
    ("passes", "share_tolerance", "cents_tolerance"),
    [(1, 50.0, 0.02), (20, 10.0, 0.005)],
)
def test_sa_agrees_with_the_closed_form_for_one_venue(
    name: str, passes: int, share_tolerance: float, cents_tolerance: float
) -> None:
    """The paper's algorithm from an uninformed start, 2,000 samples.

    One pass (the paper's algorithm): within 5% of the order (50 shares) and 0.02 cents per
    share; twenty passes over the same samples: within 10 shares and 0.005 cents per share.
    Observed: at most 38 shares / 0.01 cents (one pass) and 8 shares / 0.002 cents (twenty).
    The closed form is the exact minimiser, so the SA never costs less.
    """
    params = _params(SIZE, 1)
    xi = _outflow(name)
    exact = closed_form_one_venue(params, xi)
    sa = solve_sa(params, xi, x0="equal", passes=passes)
    assert abs(sa[1] - exact.limits[0]) <= share_tolerance
    assert sa.sum() == pytest.approx(SIZE)  # one venue: M + L = S on C
    gap = cents_per_share(sa, params, xi) - cents_per_share(exact.vector(), params, xi)
    assert -1e-9 <= gap <= cents_tolerance


def test_sa_starts_from_the_cheapest_simple_strategy_or_quantiles() -> None:
    params = _params(SIZE, 1)
    xi = _outflow("poisson_factor")
    exact = closed_form_one_venue(params, xi)
    # with one venue the quantile start is the closed form, and the iterates stay near it
    assert abs(solve_sa(params, xi)[1] - exact.limits[0]) <= 3
    assert abs(solve_sa(params, xi, x0="quantile")[1] - exact.limits[0]) <= 3
    with pytest.raises(ConfigError, match="x0"):
        solve_sa(params, xi, x0="nowhere")
    with pytest.raises(ConfigError, match="x0"):
        solve_sa(params, xi, x0=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="passes"):
        solve_sa(params, xi, passes=0)


def test_sa_is_deterministic_and_returns_a_point_of_c() -> None:
    params = _params(1000, 5)
    xi = poisson_factor_outflows(np.random.default_rng(5), 1000, 5, 2200, 0.6)
    first = solve_sa(params, xi)
    assert np.array_equal(first, solve_sa(params, xi))
    market, limits = first[0], first[1:]
    assert 0 <= market <= 1000 + 1e-9
    assert np.all(limits >= -1e-9) and np.all(limits <= 1000 - market + 1e-6)
    assert market + limits.sum() >= 1000 - 1e-6


def test_step_size_is_the_papers() -> None:
    params = CKParams(1000, 0.02, 0.003, 0.0005, 0.05, 0.04, (2000, 1000), (0.002, -0.001))
    penalties = 0.0005 + 0.05 + 0.04
    norm2 = (0.023 + penalties) ** 2 + (0.022 + penalties) ** 2 + (0.019 + penalties) ** 2
    assert sa_step_size(params, 400) == pytest.approx(math.sqrt(2) * 1000 / math.sqrt(400 * norm2))


# --- projection and rounding -------------------------------------------------------------------


def test_projection_examples() -> None:
    # inside C: unchanged
    assert project_feasible([500, 300, 400], 1000) == pytest.approx([500, 300, 400])
    # short of S: onto the simplex M + L = S
    assert project_feasible([50, 10], 100) == pytest.approx([70, 30])
    # L above S - M: capped
    assert project_feasible([0, 150, 150], 100) == pytest.approx([0, 100, 100])
    # negative coordinates: all three move by the same 170/3 onto the simplex
    third = 170 / 3
    assert project_feasible([-50, -50, 30], 100) == pytest.approx([third - 50] * 2 + [third + 30])
    assert project_feasible([-50, -50, 300], 100) == pytest.approx([0, 0, 100])
    # M above S
    assert project_feasible([150, 0, 0], 100) == pytest.approx([100, 0, 0])


def test_rounding_keeps_whole_shares_in_c() -> None:
    rounded = round_to_shares([333.4, 333.3, 333.3], 1000)
    assert rounded.tolist() == [334, 333, 333]  # the share lost to rounding goes to M
    assert round_to_shares([0.4, 999.6], 1000).tolist() == [0, 1000]
    assert round_to_shares([600.6, 400.4, 399.6], 1000).tolist() == [601, 399, 399]
    assert rounded.dtype == np.int64


# --- outflow model -----------------------------------------------------------------------------


def test_poisson_factor_outflows_are_seeded_whole_shares() -> None:
    first = poisson_factor_outflows(np.random.default_rng(1), 20_000, 3, 2200, 0.6)
    again = poisson_factor_outflows(np.random.default_rng(1), 20_000, 3, 2200, 0.6)
    assert np.array_equal(first, again)
    assert first.shape == (20_000, 3)
    assert np.array_equal(first, np.rint(first))
    assert first.mean() == pytest.approx(2200, rel=0.002)
    # variance (a^2 + (1 - a)^2) m, correlation a^2 / (a^2 + (1 - a)^2) between venues
    assert first.var(axis=0).mean() == pytest.approx(0.52 * 2200, rel=0.05)
    assert np.corrcoef(first[:, 0], first[:, 1])[0, 1] == pytest.approx(0.36 / 0.52, abs=0.03)


# --- solve ---------------------------------------------------------------------------------------


def test_solve_picks_the_method_and_reports_the_simple_strategies() -> None:
    one = _params(1000, 1)
    xi1 = poisson_factor_outflows(np.random.default_rng(2), 1000, 1, 2200, 0.6)
    solution = solve(one, xi1)
    assert solution.method == "closed_form" and solution.fallback is None
    market, (limit,) = closed_form_one_venue(one, xi1).as_int()
    assert solution.allocation.tolist() == [market, limit]
    five = _params(1000, 5)
    xi5 = poisson_factor_outflows(np.random.default_rng(2), 1000, 5, 2200, 0.6)
    solution = solve(five, xi5)
    assert solution.method == "stochastic_approximation"
    assert set(solution.strategies) == {"market_only", "single_limit", "equal_split"}
    assert solution.cost <= min(solution.strategies.values())
    assert solution.cost == pytest.approx(expected_cost(solution.allocation, five, xi5))


def test_solve_polishes_past_the_averaged_iterates() -> None:
    # every outflow clears every queue by far, so any limit order fills: sending exactly S as
    # limit orders is optimal, and the constant-step iterates, pushed back onto M + sum L >= S
    # by the projection, average a little above S (511 shares here); the polish takes the
    # excess back
    params = _params(500, 5)
    xi = np.full((300, 5), 5000.0)
    assert solve_sa(params, xi).sum() > 505
    solution = solve(params, xi)
    assert solution.fallback is None and solution.polish_moves > 0
    assert solution.allocation[0] == 0 and solution.allocation.sum() == 500
    assert solution.cost == pytest.approx(-0.022 * 500 + 0.0005 * 500)
    assert solution.method_cost > solution.cost
    assert solution.cost <= expected_cost(equal_split(params), params, xi)


def test_the_simple_allocations_are_the_papers() -> None:
    params = _params(500, 2)
    xi = np.full((10, 2), 2100.0)
    simple = {name: x.tolist() for name, (x, _) in simple_strategies(params, xi).items()}
    assert simple == {
        "market_only": [500, 0, 0],
        "single_limit": [0, 500, 0],  # X_L: the whole order at the first venue
        "equal_split": [167, 167, 166],  # X_E: S/(K+1) to M and to each L_k
    }
    assert equal_split(_params(1000, 4)).tolist() == [200] * 5


def test_cost_breakdown_adds_up_and_counts_fills() -> None:
    params = CKParams(1000, 0.02, 0.003, 0.0005, 0.05, 0.05, (100, 200), (0.002, 0.001))
    x = [300, 500, 400]
    xi = np.array([[400.0, 250.0], [1000.0, 1000.0], [600.0, 200.0]])
    # as in test_cost_matches_a_hand_computation: 350 short, 200 over, 200 short
    parts = cost_breakdown(x, params, xi)
    assert parts.total == pytest.approx(expected_cost(x, params, xi), abs=1e-12)
    fees = [0.023 * 300 - 0.022 * 300 - 0.021 * 50, 0.023 * 300 - 0.022 * 500 - 0.021 * 400,
            0.023 * 300 - 0.022 * 500]  # fmt: skip
    assert parts.fees == pytest.approx(np.mean(fees), abs=1e-12)
    assert parts.impact == pytest.approx(0.0005 * (1200 * 3 + 350 + 200) / 3, abs=1e-12)
    assert parts.penalties == pytest.approx(0.05 * (350 + 200 + 200) / 3, abs=1e-12)
    assert parts.underfill_shares == pytest.approx(550 / 3)
    assert parts.overfill_shares == pytest.approx(200 / 3)
    assert parts.p_underfill == pytest.approx(2 / 3) and parts.p_overfill == pytest.approx(1 / 3)


# --- the problem file ----------------------------------------------------------------------------


def test_place_answers_and_is_deterministic() -> None:
    first = place(parse_problem(_problem())).to_dict()
    assert first == place(parse_problem(_problem())).to_dict()
    assert set(first) == {
        "allocation",
        "cost_cents_per_share",
        "breakdown",
        "allocations",
        "solver",
    }
    parts = first["breakdown"]
    total = parts["fees"] + parts["impact"] + parts["penalties"]
    assert total == pytest.approx(first["cost_cents_per_share"]["optimal"], abs=1e-5)
    assert first["allocations"]["equal_split"] == {"market": 334, "limits": [333, 333]}
    assert first["allocations"]["single_limit"] == {"market": 0, "limits": [1000, 0]}
    assert first["allocations"]["optimal"] == first["allocation"]
    allocation = first["allocation"]
    assert len(allocation["limits"]) == 2
    assert allocation["market"] + sum(allocation["limits"]) >= 1000
    costs = first["cost_cents_per_share"]
    assert set(costs) == {"optimal", "market_only", "single_limit", "equal_split"}
    assert costs["market_only"] == pytest.approx(2.35)
    assert costs["optimal"] <= min(
        costs["market_only"], costs["single_limit"], costs["equal_split"]
    )
    assert first["solver"]["samples"] == 500 and first["solver"]["seed"] == 7
    other_seed = place(parse_problem(_problem(seed=8))).to_dict()
    assert other_seed["cost_cents_per_share"] != first["cost_cents_per_share"]


def test_place_with_explicit_samples_and_one_venue() -> None:
    data = _problem(
        venues=[{"queue": 2000, "rebate": 0.002}],
        outflow={"samples": [[2100], [2400], [2400], [2400], [2100], [2400], [2400]]},
    )
    del data["samples"]
    result = place(parse_problem(data)).to_dict()
    assert result["allocation"] == {"market": 600, "limits": [400]}
    assert result["solver"]["method"] == "closed_form"
    assert result["solver"]["samples"] == 7


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_size": None}, "order_size"),
        ({"order_size": 0}, "order_size"),
        ({"order_size": "1000"}, "order_size"),
        ({"half_spread": -0.01}, "half_spread"),
        ({"theta": float("nan")}, "theta"),
        ({"lambda_undr": 0.1}, "lambda_undr"),
        ({"venues": []}, "venues"),
        (
            {"venues": [{"queue": 2000, "rebate": 0.002}, {"queue": -1, "rebate": 0.0}]},
            "venues[1].queue",
        ),
        ({"venues": [{"queue": 2000}]}, "venues[0].rebate"),
        ({"outflow": {"model": "gaussian", "mean": 1, "common_weight": 0.5}}, "outflow.model"),
        (
            {"outflow": {"model": "poisson_factor", "mean": 2200, "common_weight": 1.5}},
            "outflow.common_weight",
        ),
        ({"outflow": {"model": "poisson_factor", "mean": 0, "common_weight": 0.5}}, "outflow.mean"),
        ({"outflow": {"mean": 2200}}, "outflow"),
        ({"outflow": {"samples": [[1, 2], [3]]}, "samples": None}, "outflow.samples[1]"),
        ({"outflow": {"samples": [[1, -2]]}, "samples": None}, "outflow.samples[0][1]"),
        ({"outflow": {"samples": []}, "samples": None}, "outflow.samples"),
        ({"outflow": {"samples": [[1, 2]]}}, "samples"),
        ({"samples": 0}, "samples"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_problem_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    data = _problem()
    for key, value in change.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    with pytest.raises(ConfigError) as caught:
        parse_problem(data, "p.json")
    message = str(caught.value)
    assert message.startswith("p.json: ")
    assert f" {field}:" in message or f" {field} " in message, message
    assert "\n" not in message


def test_problem_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="expected a JSON object"):
        parse_problem([1, 2], "p.json")


def test_load_problem_reports_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such problem file"):
        load_problem(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_problem(broken)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_problem()), encoding="utf-8")
    assert load_problem(good).outflows.shape == (500, 2)


# --- the command -------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(place_command)

    @app.command()
    def other() -> None:  # a second command, so that ``place`` is a subcommand as in ``sor``
        """Do nothing."""

    return app


def test_command_prints_the_json_answer(tmp_path: Path) -> None:
    problem = tmp_path / "problem.json"
    problem.write_text(json.dumps(_problem()), encoding="utf-8")
    done = CliRunner().invoke(_app(), ["place", str(problem)])
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) == place(load_problem(problem)).to_dict()


@pytest.mark.parametrize(
    "args",
    [
        ["place", "missing.json"],
        ["place"],
        ["place", "x.json", "--paper-table"],
        ["place", "bad.json"],
    ],
)
def test_command_errors_are_one_line_exit_2(
    tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps(_problem(order_size=-5)), encoding="utf-8")
    done = CliRunner().invoke(_app(), args)
    assert done.exit_code == 2
    assert done.stdout == ""
    assert done.stderr.startswith("sor: error: ") and done.stderr.count("\n") == 1
