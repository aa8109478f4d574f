"""Hostile ``sor place`` problems: the answer as strict JSON, or one line and exit status 2.

Each case runs the real command in-process (``sor.cli.main``): a refusal prints nothing on
stdout and exactly one line on stderr naming the field and its range, or the cap and what to
lower; an answer is JSON without ``NaN`` or ``Infinity``. The work caps are checked before
any sample is drawn, so the refusals of huge problems cost nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_run import Outcome, run_main
from sor.ck import place as lib

BIG = "__5000_digits__"  # written as a 5,000-digit integer (json.dumps cannot write one)
DEEP = "__nested_100000_deep__"  # written as 100,000 arrays inside one another
DELETE = "__delete__"  # the field is left out


def _problem(**change: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_size": 1000,
        "half_spread": 0.02,
        "fee": 0.003,
        "theta": 0.0005,
        "lambda_under": 0.05,
        "lambda_over": 0.05,
        "venues": [{"queue": 2000, "rebate": 0.002}, {"queue": 1500, "rebate": 0.001}],
        "outflow": {"model": "poisson_factor", "mean": 2200, "common_weight": 0.6},
        "samples": 200,
        "seed": 7,
    }
    data.update(change)
    return data


def _text(data: object) -> str:
    """Write ``data`` as JSON, non-finite floats as Python writes them, and the stand-ins."""
    text = json.dumps(data, separators=(",", ":"))
    text = text.replace(json.dumps(BIG), "9" * 5000)
    return text.replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000)


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> Outcome:
    problem = tmp_path / "p.json"
    problem.write_text(text, encoding="utf-8")
    return run_main(["place", str(problem)], capsys)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _answer(outcome: Outcome) -> dict[str, Any]:
    """Assert a successful run and return its answer, parsed as strict JSON."""
    assert outcome.returncode == 0, outcome.stderr
    answer: dict[str, Any] = json.loads(outcome.stdout, parse_constant=_refuse_constant)
    return answer


def _refusal(outcome: Outcome) -> str:
    """Assert a one-line refusal with exit status 2 and return the line."""
    assert outcome.returncode == 2, outcome.stdout + outcome.stderr
    assert outcome.stdout == ""
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and outcome.stderr.endswith("\n"), outcome.stderr
    assert lines[0].startswith("sor: error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _text(_problem(lambda_under=1e308, lambda_over=1e308)),
            "lambda_under: Input should be less than or equal to 1000000 (allowed: "
            "0 <= lambda_under <= 1,000,000); lambda_over:",
            id="lambdas-1e308",
        ),
        pytest.param(
            _text(_problem(seed=-1)),
            "seed: Input should be greater than or equal to 0 (allowed: a whole number, "
            "0 <= seed <= 9,223,372,036,854,775,807)",
            id="seed-negative",
        ),
        pytest.param(
            _text(_problem(order_size=BIG)),
            "order_size: Input should be less than or equal to 1000000000000 (allowed: a whole "
            "number, 0 < order_size <= 1,000,000,000,000)",
            id="order-size-5000-digits",
        ),
        pytest.param(
            _text(_problem(order_size=2**63)),
            "order_size: Input should be less than or equal to 1000000000000 (allowed: a whole "
            "number, 0 < order_size <= 1,000,000,000,000)",
            id="order-size-2^63",
        ),
        pytest.param(
            _text(_problem(outflow={"model": "poisson_factor", "mean": 1e30, "common_weight": 1})),
            "outflow.mean: Input should be less than or equal to 1000000000000 (allowed: "
            "0 < mean <= 1,000,000,000,000)",
            id="outflow-mean-1e30",
        ),
        pytest.param(
            _text(_problem(venues=[{"queue": -(2**63), "rebate": float("inf")}])),
            "venues[0].queue: Input should be greater than or equal to 0 (allowed: a whole "
            "number, 0 <= queue <= 1,000,000,000,000); venues[0].rebate: Input should be a "
            "finite number (allowed: -1,000,000 <= rebate <= 1,000,000)",
            id="venue-out-of-range",
        ),
        pytest.param(
            _text(_problem(samples=None, outflow={"samples": [[1.0, 1e13]]})),
            "outflow.samples[0][1]: Input should be less than or equal to 1000000000000 "
            "(allowed: 0 <= value <= 1,000,000,000,000)",
            id="outflow-sample-1e13",
        ),
        pytest.param(
            '{"order_size": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "not valid JSON for a problem: nested deeper than the reader goes (a problem "
            "nests 4 levels at most, as in outflow.samples[row][venue])",
            id="nested-100000-deep",
        ),
        pytest.param(
            _text(_problem(venues=[{"queue": 2000, "rebate": 0.002}] * 2000)),
            "venues: 2,000 venues, above the cap of 50: give fewer venues",
            id="2000-venues",
        ),
        pytest.param(
            _text(_problem(venues=[{"queue": 2000, "rebate": 0.002}] * 51)),
            "venues: 51 venues, above the cap of 50: give fewer venues",
            id="51-venues",
        ),
        pytest.param(
            _text(_problem(samples=10_000_000)),
            "samples: Input should be less than or equal to 5000000 (allowed: a whole number, "
            "0 < samples <= 5,000,000)",
            id="samples-10000000",
        ),
        pytest.param(
            _text(_problem(samples=2_500_001)),
            "samples x venues = 2,500,001 x 2 = 5,000,002 outflow values, above the cap of "
            "5,000,000: lower samples or give fewer venues",
            id="outflow-values-over-the-cap",
        ),
        pytest.param(
            _text(_problem(samples=1001, sa_passes=10_000)),
            "samples x sa_passes x venues = 1,001 x 10,000 x 2 = 20,020,000 steps, above the "
            "cap of 20,000,000: lower sa_passes or samples",
            id="steps-over-the-cap",
        ),
        pytest.param(
            _text(_problem(samples=None, sa_passes=10_000, outflow={"samples": [[1, 2]] * 1001})),
            "samples x sa_passes x venues = 1,001 x 10,000 x 2 = 20,020,000 steps, above the "
            "cap of 20,000,000: lower sa_passes or the rows of outflow.samples",
            id="explicit-samples-steps-over-the-cap",
        ),
        pytest.param(
            _text(_problem(samples=None, outflow={"samples": [[None, None]] * 500_000})),
            "outflow.samples[0][0]: Input should be a valid number (allowed: 0 <= value <= "
            "1,000,000,000,000)",
            id="half-a-million-bad-samples-one-error",
        ),
        pytest.param(
            _text({**_problem(), **{f"key{i}": 0 for i in range(100_000)}}),
            "key0: Extra inputs are not permitted; key1: Extra inputs are not permitted; key2: "
            "Extra inputs are not permitted; and 99,997 more (the fields are order_size, ",
            id="a-hundred-thousand-unknown-keys",
        ),
    ],
)
def test_hostile_problem_is_one_line_naming_the_field_and_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    line = _refusal(_run(tmp_path, capsys, text))
    assert line.startswith(f"sor: error: {tmp_path / 'p.json'}: {expected}"), line


def test_a_file_beyond_the_size_cap_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = tmp_path / "p.json"
    with problem.open("wb") as handle:  # sparse: costs no disk
        handle.truncate(lib.MAX_PROBLEM_BYTES + 1)
    line = _refusal(run_main(["place", str(problem)], capsys))
    assert line == (
        f"sor: error: {problem}: the problem file is larger than the cap of 8 MiB: give "
        "fewer explicit outflow samples (or the poisson_factor model)"
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            {"lambda_under": 1e6, "lambda_over": 1e6, "theta": 1e6, "half_spread": 1e6},
            id="money-at-its-cap",
        ),
        pytest.param(
            {"fee": -1e6, "venues": [{"queue": 0, "rebate": -1e6}, {"queue": 0, "rebate": 1e6}]},
            id="negative-fee-and-rebate",
        ),
        pytest.param(
            {
                "order_size": 10**12,
                "venues": [{"queue": 10**12, "rebate": 1e6}, {"queue": 0, "rebate": 0}],
                "outflow": {"model": "poisson_factor", "mean": 1e12, "common_weight": 0},
                "lambda_under": 1e6,
            },
            id="shares-at-their-cap",
        ),
        pytest.param(
            {
                "half_spread": 5e-324,
                "fee": 5e-324,
                "theta": 0,
                "lambda_under": 0,
                "lambda_over": 0,
                "venues": [{"queue": 0, "rebate": -5e-324}] * 3,
            },
            id="tiny-money",
        ),
        pytest.param({"seed": 2**63 - 1}, id="largest-seed"),
    ],
)
def test_extreme_problems_inside_the_ranges_answer_finite_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any]
) -> None:
    answer = _answer(_run(tmp_path, capsys, _text(_problem(**change))))
    assert set(answer) == {"allocation", "cost_cents_per_share", "breakdown", "allocations",
                           "solver"}  # fmt: skip


def test_a_non_finite_figure_is_an_error_not_json() -> None:
    with pytest.raises(lib.SorError, match="not a finite number"):
        lib.dumps({"cost": float("inf")})


# --- random hostile problems ---------------------------------------------------------------------

NASTY = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30, 1e308, -1e308,
         1e-308, 5e-324, 1e6, 1e12, 1e12 + 1, 0.5, True, False, None, "", "1000", "poisson_factor",
         BIG, DEEP, DELETE]  # fmt: skip
FIELDS = ["order_size", "half_spread", "fee", "theta", "lambda_under", "lambda_over", "venues",
          "outflow", "samples", "seed", "sa_passes", "venues.0", "venues.0.queue",
          "venues.1.rebate", "outflow.mean", "outflow.common_weight", "outflow.model",
          "outflow.samples", "unknown"]  # fmt: skip
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4),
    max_leaves=10,
)  # fmt: skip
HOSTILE = st.sampled_from(NASTY) | JSONISH


def _set(data: dict[str, Any], path: str, value: object) -> None:
    """Set (or, for ``DELETE``, remove) the value at ``path``, keys and list indices by dots."""
    *parents, last = path.split(".")
    target: Any = data
    for part in [*parents, last]:
        if part is last:
            break
        target = _item(target, part)
        if not isinstance(target, dict | list):
            return
    if isinstance(target, list):
        if last.isdigit() and int(last) < len(target):
            target[int(last)] = value
    elif value == DELETE:
        target.pop(last, None)
    else:
        target[last] = value


def _item(container: dict[str, Any] | list[Any], part: str) -> object:
    if isinstance(container, dict):
        return container.get(part)
    return container[int(part)] if part.isdigit() and int(part) < len(container) else None


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=st.lists(st.tuples(st.sampled_from(FIELDS), HOSTILE), max_size=4),
    explicit=st.booleans(),
)
def test_random_hostile_problems_answer_strict_json_or_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    changes: list[tuple[str, object]],
    explicit: bool,
) -> None:
    # the caps lowered, so that a problem hypothesis finds valid stays quick; the code that
    # checks them is the same
    monkeypatch.setattr(lib, "MAX_OUTFLOW_VALUES", 20_000)
    monkeypatch.setattr(lib, "MAX_SA_STEPS", 200_000)
    data = _problem()
    if explicit:
        del data["samples"]
        data["outflow"] = {"samples": [[2100, 1600], [2400, 1400], [1900, 1700]]}
    for path, value in changes:
        _set(data, path, value)
    outcome = _run(tmp_path, capsys, _text(data))
    assert "Traceback" not in outcome.stderr, outcome.stderr
    if outcome.returncode == 0:
        assert outcome.stderr == ""
        _answer(outcome)
    else:
        _refusal(outcome)


def _money(low: float) -> st.SearchStrategy[float]:
    return st.floats(low, lib.MAX_DOLLARS) | st.sampled_from([low, lib.MAX_DOLLARS, 5e-324])


SHARES = st.integers(0, lib.MAX_SHARES) | st.sampled_from([0, 1, lib.MAX_SHARES])


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    money=st.fixed_dictionaries(
        {"half_spread": _money(0.0), "fee": _money(-lib.MAX_DOLLARS), "theta": _money(0.0),
         "lambda_under": _money(0.0), "lambda_over": _money(0.0)}
    ),
    order_size=st.integers(1, lib.MAX_SHARES) | st.sampled_from([1, lib.MAX_SHARES]),
    venues=st.lists(st.fixed_dictionaries({"queue": SHARES, "rebate": _money(-lib.MAX_DOLLARS)}),
                    min_size=1, max_size=4),
    mean=st.floats(1e-300, lib.MAX_SHARES) | st.sampled_from([5e-324, lib.MAX_SHARES]),
    common_weight=st.floats(0, 1),
    samples=st.integers(1, 40),
    seed=st.integers(0, lib.MAX_SEED),
    explicit=st.none() | st.lists(st.lists(st.floats(0, lib.MAX_SHARES) | SHARES, min_size=4,
                                           max_size=4), min_size=1, max_size=40),
)  # fmt: skip
def test_every_problem_inside_the_ranges_answers_finite_json(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    money: dict[str, float],
    order_size: int,
    venues: list[dict[str, Any]],
    mean: float,
    common_weight: float,
    samples: int,
    seed: int,
    explicit: list[list[float]] | None,
) -> None:
    outflow: dict[str, Any] = {"model": "poisson_factor", "mean": mean,
                               "common_weight": common_weight}  # fmt: skip
    data = _problem(**money, order_size=order_size, venues=venues, outflow=outflow,
                    samples=samples, seed=seed)  # fmt: skip
    if explicit is not None:  # explicit outflows, whole shares or not, one per venue
        data["outflow"] = {"samples": [row[: len(venues)] for row in explicit]}
        del data["samples"]
    answer = _answer(_run(tmp_path, capsys, _text(data)))
    allocation = answer["allocation"]
    assert allocation["market"] + sum(allocation["limits"]) >= order_size
