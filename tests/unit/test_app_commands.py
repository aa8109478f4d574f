"""Each command's application module (``sor.app.<command>``) called as a library does what
the command does: ``run`` returns the report the command writes, byte for byte, and
raises the one-line error the command prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cli_run import run_main
from sor.core.defaults import DEFAULT_LATENCY_US, DEFAULT_QUEUE_MODEL
from sor.core.errors import SorError
from sor.data.generate import generate_market

if TYPE_CHECKING:
    from sor.app.evaluate import EvaluateSettings
    from sor.app.fills import FillsSettings
    from sor.app.generate import GenerateSettings
    from sor.app.stats import StatsSettings


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minute of two venues."""
    path = tmp_path_factory.mktemp("market") / "m.csv"
    generate_market(path, venues=2, seed=4, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:32Z")  # fmt: skip
    return path


def _error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command, which must refuse in one line; return the line's message."""
    outcome = run_main(args, capsys)
    assert outcome.returncode == 2, outcome
    assert outcome.stderr.count("\n") == 1 and outcome.stderr.startswith("sor: error: ")
    return outcome.stderr.removeprefix("sor: error: ").rstrip("\n")


# --- sor fills --------------------------------------------------------------------------------


def _fills_settings(*, compare: bool = False, **flags: object) -> FillsSettings:
    """The settings of ``sor fills`` with its default flags, but ``flags``."""
    from sor.app.fills import FillsSettings
    from sor.app.settings import FillsFlags, check_flags

    values = {"every": 5.0, "size": (200,), "horizon": (0.5, 2.0, 10.0),
              "queue_model": DEFAULT_QUEUE_MODEL, "latency_us": DEFAULT_LATENCY_US, "side": "buy",
              "crossing_fill": "displayed"}  # fmt: skip
    return FillsSettings.from_flags(check_flags(FillsFlags, {**values, **flags}), compare=compare)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_fills_run_returns_the_report_orders_and_figure_the_command_writes(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], side: str
) -> None:
    from sor.app import fills

    report, orders, plot = tmp_path / "f.json", tmp_path / "f.csv", tmp_path / "f.png"
    outcome = run_main(["fills", "--data", str(market), "--side", side, "--json-out",
                        str(report), "--orders-out", str(orders), "--plot", str(plot),
                        "--quiet"], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr

    result = fills.run(market, _fills_settings(side=side))

    assert json.dumps(result.report, indent=2) + "\n" == report.read_text()
    assert outcome.stdout == report.read_text()
    assert len(result.orders) == result.report["run"]["orders_placed"]
    again = tmp_path / "again"
    again.mkdir()
    fills.write(result, fills.FillsOutputs(again / "f.json", again / "f.csv", again / "f.png"))
    for name in ("f.json", "f.csv", "f.png"):
        assert (again / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_fills_run_raises_the_line_the_command_prints(
    market: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sor.app import fills

    line = _error(["fills", "--data", str(market), "--compare", "--no-plot", "--quiet"], capsys)
    with pytest.raises(SorError) as caught:
        fills.run(market, _fills_settings(compare=True))
    assert str(caught.value) == line


# --- sor stats --------------------------------------------------------------------------------


def _stats_settings(*, start: str | None = None, end: str | None = None) -> StatsSettings:
    """The settings of ``sor stats`` with its default flags, in the window given."""
    from sor.app import stats
    from sor.app.settings import StatsFlags, check_flags

    flags = check_flags(StatsFlags, {"lags": 10, "intervals": (1.0, 10.0, 60.0),
                                     "horizons": (1.0, 10.0, 60.0), "tick": 0.01})  # fmt: skip
    return stats.StatsSettings.from_flags(flags, window=stats.window(start, end))


def test_stats_run_returns_the_report_and_figure_the_command_writes(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sor.app import stats

    plot = tmp_path / "st.png"
    outcome = run_main(["stats", str(market), "--plot", str(plot), "--quiet"], capsys)
    assert outcome.returncode == 0, outcome.stderr

    result = stats.run(market, _stats_settings())

    assert json.dumps(result.report, indent=2) + "\n" == outcome.stdout
    stats.write(result, stats.StatsOutputs(tmp_path / "again.png"))
    assert (tmp_path / "again.png").read_bytes() == plot.read_bytes()


@pytest.mark.parametrize(
    ("start", "end"), [("2030-01-01T00:00:00Z", None), ("2024-08-02", "2024-08-01")]
)
def test_stats_settings_and_run_raise_the_line_the_command_prints(
    market: Path, capsys: pytest.CaptureFixture[str], start: str, end: str | None
) -> None:
    from sor.app import stats

    window = ["--start", start, *(["--end", end] if end else [])]
    line = _error(["stats", str(market), *window, "--no-plot", "--quiet"], capsys)
    with pytest.raises(SorError) as caught:
        stats.run(market, _stats_settings(start=start, end=end))
    assert str(caught.value) == line


# --- sor place --------------------------------------------------------------------------------

PROBLEM = {
    "order_size": 1000, "half_spread": 0.02, "fee": 0.003, "theta": 0.0005,
    "lambda_under": 0.05, "lambda_over": 0.05,
    "venues": [{"queue": 2000, "rebate": 0.002}, {"queue": 1500, "rebate": 0.001}],
    "outflow": {"model": "poisson_factor", "mean": 2200, "common_weight": 0.6},
    "samples": 200, "seed": 7,
}  # fmt: skip


def test_place_run_returns_the_answer_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sor.app import place
    from sor.ck.place import dumps

    problem = tmp_path / "p.json"
    problem.write_text(json.dumps(PROBLEM), encoding="utf-8")
    outcome = run_main(["place", str(problem)], capsys)
    assert outcome.returncode == 0, outcome.stderr

    assert dumps(place.run(problem).report) + "\n" == outcome.stdout


def test_place_writes_its_json_to_json_out_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem, out = tmp_path / "p.json", tmp_path / "placement.json"
    problem.write_text(json.dumps(PROBLEM), encoding="utf-8")
    outcome = run_main(["place", str(problem), "--json-out", str(out)], capsys)
    assert outcome.returncode == 0, outcome.stderr
    assert out.read_text() == outcome.stdout and json.loads(out.read_text())
    assert f"sor: wrote {out}\n" in outcome.stderr
    # an output that names the input is refused before anything is solved
    line = _error(["place", str(problem), "--json-out", str(problem)], capsys)
    assert "--json-out" in line and json.loads(problem.read_text()) == PROBLEM


def test_place_run_raises_the_line_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sor.app import place

    problem = tmp_path / "p.json"
    problem.write_text(json.dumps({**PROBLEM, "order_size": -5}), encoding="utf-8")
    line = _error(["place", str(problem)], capsys)
    with pytest.raises(SorError) as caught:
        place.run(problem)
    assert str(caught.value) == line


@pytest.mark.usefixtures("exact_costs_once")
def test_paper_study_returns_the_rows_and_verdict_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sor.app import place
    from sor.ck.place import dumps

    table1 = tmp_path / "t1.csv"  # the paper's figures for one (S, K): most rows go unchecked
    table1.write_text("S,K,market_only,single_limit,equal_split,optimal\n"
                      "1000,2,3.0,2.5,2.4,2.2\n")  # fmt: skip
    args = ["place", "--paper-table", "--samples", "100", "--seed", "3", "--paper", str(table1)]
    text = run_main([*args, "--json"], capsys)
    table = run_main(args, capsys)

    settings = place.PaperSettings.from_flags(samples=100, seed=3, paper=table1)
    study = place.run_paper(settings)

    assert dumps(study.report) + "\n" == text.stdout
    assert study.table() + "\n" == table.stdout
    for outcome in (text, table):
        assert outcome.returncode == (1 if study.failures else 0)
        verdict = f"sor: the paper check failed: {'; '.join(study.failures)}\n"
        assert outcome.stderr == (verdict if study.failures else "")


def test_paper_study_raises_the_line_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sor.app import place

    breakdown = tmp_path / "t2.csv"
    breakdown.write_text("S,K\n")  # no figure named
    line = _error(["place", "--paper-table", "--paper-breakdown", str(breakdown)], capsys)
    with pytest.raises(SorError) as caught:
        place.run_paper(place.PaperSettings.from_flags(paper_breakdown=breakdown))
    assert str(caught.value) == line


# --- sor generate -----------------------------------------------------------------------------


def _generate_settings(**flags: object) -> GenerateSettings:
    """The settings of ``sor generate`` with its default flags, but ``flags``."""
    from sor.app.generate import GenerateSettings
    from sor.app.settings import GenerateFlags, check_flags

    values = {"venues": 6, "seed": 7, "start": "2024-08-01T13:36:32Z", "depth": 10,
              "rate": 111.0, "price_moves": 0.35}  # fmt: skip
    return GenerateSettings.from_flags(check_flags(GenerateFlags, {**values, **flags}))


@pytest.mark.parametrize("days", [None, 2])
def test_generate_run_writes_the_files_the_command_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], days: int | None
) -> None:
    from sor.app import generate

    flags = {"venues": 2, "seed": 5, "end": "2024-08-01T13:36:52Z", "depth": 1, "days": days}
    given = [f"--{name}={value}" for name, value in flags.items() if value is not None]
    outcome = run_main(["generate", "--out", str(tmp_path / "cli"), *given, "--quiet"], capsys)
    assert outcome.returncode == 0, outcome.stderr

    result = generate.run(tmp_path / "library", _generate_settings(**flags), quiet=True)

    names = [summary.path.name for summary in result.files]
    assert len(names) == (days or 1)
    cli = [tmp_path / "cli" / name for name in names] if days else [tmp_path / "cli"]
    assert [summary.path.read_bytes() for summary in result.files] == [
        path.read_bytes() for path in cli
    ]
    assert result.rows == sum(len(path.read_text().splitlines()) - 1 for path in cli)


def test_generate_run_raises_the_line_the_command_prints_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sor.app import generate

    out = tmp_path / "new" / "days"
    many = {"rate": 10_000.0, "days": 4}  # 6 venues x 540 s x 4 days: 1.3e8 rows
    line = _error(["generate", "--out", str(out), "--rate", "10000", "--days", "4"], capsys)
    with pytest.raises(SorError) as caught:
        generate.run(out, _generate_settings(**many))
    assert str(caught.value) == line
    assert "more than the cap" in line
    assert list(tmp_path.iterdir()) == []


# --- sor evaluate -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 20-second days of two venues, one seed and one date each."""
    folder = tmp_path_factory.mktemp("days")
    for day in range(3):
        generate_market(
            folder / f"day{day}.csv", venues=2, seed=60 + day, price_moves=1.0,
            start=f"2024-08-0{day + 1}T13:36:32Z", end=f"2024-08-0{day + 1}T13:36:52Z",
        )  # fmt: skip
    return folder


EVALUATE = {"train_days": 1, "workers": 1, "lambda_over": (0.1, 0.4), "lambda_under": (0.1,),
            "theta_queue": (0.1,), "order_size": 500}  # fmt: skip
"""A small evaluation: two parameter sets, one local worker."""


def _evaluate_settings(**flags: object) -> EvaluateSettings:
    """The settings of :data:`EVALUATE`, but ``flags``."""
    from sor.app.evaluate import EvaluateSettings
    from sor.app.settings import EvaluateFlags, check_flags

    return EvaluateSettings.from_flags(check_flags(EvaluateFlags, {**EVALUATE, **flags}))


def _evaluate_args(**flags: object) -> list[str]:
    """The flags of :data:`EVALUATE`, but ``flags``, as the command line gives them."""
    given = {**EVALUATE, **flags}
    texts = {k: ",".join(map(str, v)) if isinstance(v, tuple) else str(v) for k, v in given.items()}
    return [f"--{name.replace('_', '-')}={text}" for name, text in texts.items()]


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_evaluate_run_returns_the_report_and_figure_the_command_writes(
    days: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    side: str,
) -> None:
    from sor.app import evaluate
    from sor.report.builder import dumps

    monkeypatch.delenv("SOR_DASK_SCHEDULER", raising=False)
    monkeypatch.delenv("SOR_CONFIG", raising=False)
    report, plot = tmp_path / "ev.json", tmp_path / "ev.png"
    outcome = run_main(["evaluate", "--data", str(days), *_evaluate_args(side=side),
                        "--json-out", str(report), "--plot", str(plot)], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    # where it wrote, as every command that writes files says
    lines = outcome.stderr.splitlines()
    assert lines.index(f"sor: wrote {report}") < lines.index(f"sor: wrote {plot}")

    settings = _evaluate_settings(side=side)
    result = evaluate.run(evaluate.find_days([str(days)], settings), settings, quiet=True)

    assert dumps(result.report) == report.read_text(encoding="utf-8")
    assert dumps(result.summary) == outcome.stdout
    evaluate.write(result, evaluate.EvaluateOutputs(tmp_path / "again.json", tmp_path / "a.png"))
    assert (tmp_path / "a.png").read_bytes() == plot.read_bytes()


def test_evaluate_run_raises_the_line_the_command_prints(
    days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sor.app import evaluate

    monkeypatch.delenv("SOR_DASK_SCHEDULER", raising=False)
    monkeypatch.delenv("SOR_CONFIG", raising=False)
    line = _error(["evaluate", "--data", str(days), *_evaluate_args(train_days=3), "--json-out",
                   str(tmp_path / "ev.json"), "--no-plot", "--quiet"], capsys)  # fmt: skip
    settings = _evaluate_settings(train_days=3)
    with pytest.raises(SorError) as caught:
        evaluate.run(evaluate.find_days([str(days)], settings), settings, quiet=True)
    assert str(caught.value) == line
    assert list(tmp_path.iterdir()) == []


def test_evaluate_settings_raise_the_line_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sor.app import evaluate
    from sor.app.settings import EvaluateFlags, check_flags

    monkeypatch.delenv("SOR_DASK_SCHEDULER", raising=False)
    config = tmp_path / "sor.toml"
    config.write_text('[dask]\nscheduler = "tcp://127.0.0.1:1"\n')
    line = _error(["evaluate", "--data", str(tmp_path), "--workers", "1", "--config",
                   str(config), "--no-plot", "--quiet"], capsys)  # fmt: skip
    with pytest.raises(SorError) as caught:
        evaluate.EvaluateSettings.from_flags(check_flags(EvaluateFlags, {"workers": 1}),
                                             config=config)  # fmt: skip
    assert str(caught.value) == line
