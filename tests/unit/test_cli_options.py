"""Every bad option or configuration value: one line on stderr, exit status 2, nothing run.

Most cases call the entry point ``sor.cli.main`` in-process (the same code ``sor`` and
``python -m sor`` run, with the real stderr and exit status); a few check the real command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import Outcome, run_main, sor
from sor.ck.backtest import DEFAULT_CK_GRID
from sor.core.defaults import DEFAULT_HORIZONS_S

QUIET = ["--no-plot", "--quiet"]

BACKTEST_CASES = [
    (["--fee", "nan"], "--fee: must be a finite number, got nan"),
    (["--fee", "inf"], "--fee: must be a finite number, got inf"),
    (["--fee", "2"], "--fee: must be <= 1, got 2"),
    (["--rebate", "nan"], "--rebate: must be a finite number, got nan"),
    (["--rebate", "-inf"], "--rebate: must be a finite number, got -inf"),
    (["--workers", "-1"], "--workers: must be >= 1, got -1"),
    (["--workers", "0"], "--workers: must be >= 1, got 0"),
    (["--speed", "nan"], "--speed: must be a finite number"),
    (["--speed", "-1"], "--speed: must be >= 0"),
    (["--seed", "-1"], "--seed: must be >= 0, got -1"),
    (["--order-size", "abc"], "--order-size: 'abc' is not a valid integer"),
    (["--order-size", "150"], "--order-size: order size must be a positive multiple of 100"),
    (["--order-size", "0"], "--order-size: order size must be a positive multiple of 100"),
    (["--order-size", str(10**13)], "--order-size: order size must be at most"),
    (["--lambda-over", "0.1,nan"], "--lambda-over: must be a finite number, got nan"),
    (["--lambda-under", "inf"], "--lambda-under: must be a finite number, got inf"),
    (["--theta-queue", "-0.1"], "--theta-queue: must be >= 0, got -0.1"),
    (["--theta-queue", ","], "--theta-queue: the list is empty"),
    (["--lambda-over", "a,b"], "--lambda-over: expected comma-separated numbers"),
    (["--start", "not-a-time"], "--start: invalid timestamp 'not-a-time'"),
    (["--start", "2024-08-02", "--end", "2024-08-01"], "start 2024-08-02 comes after its end"),
    (["--model", "fast"], "--model: must be 'static' or 'ck', got 'fast'"),
    (["--model", "ck", "--horizon", "nan"], "--horizon: must be a finite number, got nan"),
    (["--model", "ck", "--horizon", "inf"], "--horizon: must be a finite number, got inf"),
    (["--model", "ck", "--horizon", "0"], "--horizon: must be >= 0.001, got 0"),
    (["--model", "ck", "--horizon", "1e9"], "--horizon: must be <= 86400, got 1000000000"),
    (["--model", "ck", "--latency-us", "inf"], "--latency-us: must be a finite number, got inf"),
    (["--model", "ck", "--latency-us", "-1"], "--latency-us: must be >= 0, got -1"),
    (["--model", "ck", "--latency-sigma", "nan"], "--latency-sigma: must be a finite number"),
    (["--model", "ck", "--latency-sigma", "9"], "--latency-sigma: must be <= 3, got 9"),
    (["--model", "ck", "--latency-seed", "-1"], "--latency-seed: must be >= 0, got -1"),
    (
        ["--model", "ck", "--queue-model", "lazy"],
        "--queue-model: must be 'probabilistic', 'conservative' or",
    ),
    (["--model", "ck", "--crossing-fill", "all"], "--crossing-fill: must be 'displayed' or"),
    (
        ["--model", "ck", "--latency-us", "0", "--latency-sigma", "0.5"],
        "a sampled latency needs a positive median (--latency-us)",
    ),
    (["--horizon", "1"], "--horizon applies to --model ck only"),
    (["--latency-us", "5"], "--latency-us applies to --model ck only"),
    (["--latency-sigma", "0.1"], "--latency-sigma applies to --model ck only"),
    (["--latency-seed", "3"], "--latency-seed applies to --model ck only"),
    (["--queue-model", "conservative"], "--queue-model applies to --model ck only"),
    (["--crossing-fill", "whole"], "--crossing-fill applies to --model ck only"),
    (["--bogus"], "No such option: --bogus"),
]


def _assert_one_line_error(outcome: Outcome, *fragments: str) -> None:
    assert outcome.returncode == 2, outcome.stderr
    assert outcome.stdout == ""  # no report, no figure from bad input
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("sor: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(("args", "message"), BACKTEST_CASES)
def test_bad_backtest_option_is_one_line(
    tiny_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    outcome = run_main(["backtest", "--data", str(tiny_csv), *args, *QUIET], capsys)
    _assert_one_line_error(outcome, message)
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    ("flag", "target", "message"),
    [
        ("--json-out", "missing/o.json", "missing does not exist"),
        ("--json-out", ".", "is a directory"),
        ("--plot", "missing/p.png", "missing does not exist"),
        ("--plot", ".", "is a directory"),
        ("--plot", "figure.xyz", "the figure's format comes from its suffix"),
    ],
)
def test_output_path_is_checked_before_the_run(
    tiny_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    target: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    outcome = run_main(["backtest", "--data", str(tiny_csv), "-q", flag, target], capsys)
    _assert_one_line_error(outcome, f"{flag}: ", message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[costs]\nfee = nan\n", "costs.fee: must be a finite number, got nan"),
        ("[costs]\nrebate = inf\n", "costs.rebate: must be a finite number, got inf"),
        ("[costs.venues.XNAS]\nfee = -5.0\n", "costs.venues.XNAS.fee: must be >= -1, got -5"),
        ("[search]\nlambda_over = []\n", "search.lambda_over: the list is empty"),
        ("[search]\ntheta_queue = [0.1, nan]\n", "search.theta_queue: must be a finite number"),
        ("[order]\nsize = 150\n", "order.size: order size must be a positive multiple of 100"),
        ('[order]\nsize = "5000"\n', "order.size: '5000' is not a valid integer"),
        ('[order]\nstart = "yesterday"\n', "order.start: invalid timestamp 'yesterday'"),
        ('[order]\nside = "short"\n', "order.side: must be 'buy' or 'sell'"),
        ("[ck]\nhorizon = [0.5, 0]\n", "ck.horizon: must be >= 0.001, got 0"),
        ("[ck]\nlatency_us = inf\n", "ck.latency_us: must be a finite number, got inf"),
        (
            '[ck]\nqueue_model = "lazy"\n',
            "ck.queue_model: must be 'probabilistic', 'conservative' or",
        ),
        ('[ck]\ncrossing_fill = "all"\n', "ck.crossing_fill: must be 'displayed' or"),
        ("[search]\nlambda = [0.1]\n", "search.lambda: unknown key"),
    ],
)
def test_bad_configuration_value_is_one_line(
    tiny_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    message: str,
) -> None:
    config = tmp_path / "sor.toml"
    config.write_text(toml)
    args = ["backtest", "--data", str(tiny_csv), "--config", str(config), *QUIET]
    _assert_one_line_error(run_main(args, capsys), f"{config}: {message}")


def test_configuration_directory_is_one_line(
    tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["backtest", "--data", str(tiny_csv), "--config", str(tmp_path), *QUIET]
    _assert_one_line_error(run_main(args, capsys), str(tmp_path), "a directory")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate"], "give --out (the market to write) or --params-out (its parameters)"),
        (["generate", "--out", "m.csv", "--venues", "0"], "--venues: must be >= 1, got 0"),
        (["generate", "--out", "m.csv", "--venues", "7"], "--venues 7: there are 6 venues"),
        (["generate", "--out", "m.csv", "--depth", "5"], "--depth: must be 1 or 10, got 5"),
        (["generate", "--out", "m.csv", "--rate", "nan"], "--rate: must be a finite number"),
        (["generate", "--out", "m.csv", "--rate", "inf"], "--rate: must be a finite number"),
        (["generate", "--out", "m.csv", "--rate", "0"], "--rate: must be > 0"),
        (["generate", "--out", "m.csv", "--price-moves", "inf"], "--price-moves: must be a finite"),
        (["generate", "--out", "m.csv", "--price-moves", "0"], "--price-moves: must be > 0"),
        (["generate", "--out", "m.csv", "--seed", "-1"], "--seed: must be >= 0, got -1"),
        (["generate", "--out", "m.csv", "--start", "soon"], "--start: invalid timestamp 'soon'"),
        (
            ["generate", "--out", "m.csv", "--end", "2024-08-01T00:00:00Z"],
            "--end 2024-08-01T00:00:00Z must come after --start",
        ),
        (
            ["generate", "--out", "m.csv", "--rate", "5000", "--end", "2024-08-02T13:36:32Z"],
            "more than the cap of 1e+08 rows",
        ),
        (["generate", "--out", "."], "--out: . is a directory"),
        (["generate", "--out", "missing/m.csv"], "--out: missing/m.csv: the directory missing"),
        (["produce", "--dry-run", "--speed", "nan"], "--speed: must be a finite number"),
        (["place", "--paper-table", "--samples", "0"], "--samples: must be >= 1, got 0"),
        (["place", "--paper-table", "--seed", "-1"], "--seed: must be >= 0, got -1"),
        (["broker", "--port", "70000"], "--port: must be <= 65535, got 70000"),
        (["demo", "--seed", "x"], "--seed: 'x' is not a valid integer"),
    ],
)
def test_bad_option_of_another_command_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    _assert_one_line_error(run_main(args, capsys), message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backtest", "--order-size", "abc"], "--order-size: 'abc' is not a valid integer"),
        (["backtest", "--fee", "nan", "--no-plot"], "--fee: must be a finite number, got nan"),
    ],
)
def test_python_m_sor_prints_the_same_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = sor(*args, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"sor: error: {message}\n"


def test_readme_ck_example_searches_the_ck_grid(
    tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.json"
    args = ["backtest", "--data", str(tiny_csv), "--model", "ck", "--horizon", "0.2,0.5,2"]
    args += ["--lambda-under", "0.01,0.05,0.2", "--theta-queue", "0.0005,0.005,0.05"]
    outcome = run_main([*args, *QUIET, "--json-out", str(out)], capsys)
    assert outcome.returncode == 0, outcome.stderr
    table = json.loads(out.read_text())["search"]["table"]
    assert len(table) == 27  # 3 horizons x 1 x 3 x 3, not the static 5 lambda_over values
    assert {row["lambda_over"] for row in table} == set(DEFAULT_CK_GRID.lambda_over)


def test_ck_settings_of_the_configuration_apply_to_model_ck(
    tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sor.toml"
    config.write_text(
        '[ck]\nhorizon = [0.5]\nlatency_us = 250\nqueue_model = "conservative"\n'
        'crossing_fill = "whole"\n'
    )
    out = tmp_path / "o.json"
    args = ["backtest", "--data", str(tiny_csv), "--model", "ck", "--config", str(config)]
    outcome = run_main([*args, "--latency-us", "40", *QUIET, "--json-out", str(out)], capsys)
    assert outcome.returncode == 0, outcome.stderr
    run = json.loads(out.read_text())["run"]
    assert run["horizons_s"] == [0.5]
    assert run["latency"] == {"model": "constant", "ns": 40_000}  # the flag wins over the file
    assert run["queue_model"] == "conservative"
    assert run["crossing_fill"] == "whole"
    assert len(json.loads(out.read_text())["search"]["table"]) == 9
    assert DEFAULT_HORIZONS_S != (0.5,)


def test_ck_key_of_the_configuration_with_model_static_warns_and_runs(
    tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sor.toml"
    config.write_text("[ck]\nhorizon = [0.5]\n")
    out = tmp_path / "o.json"
    args = ["backtest", "--data", str(tiny_csv), "--config", str(config), "--order-size", "1000"]
    outcome = run_main([*args, *QUIET, "--json-out", str(out)], capsys)
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stderr == (
        f"sor: warning: {config}: [ck] horizon applies to --model ck only; ignored\n"
    )
    assert json.loads(outcome.stdout)["search"]["parameter_sets"] == 125  # the static grid


def test_figure_goes_exactly_where_asked_and_leaves_no_temporary_file(
    tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figure, report = tmp_path / "figure", tmp_path / "report.json"
    args = ["backtest", "--data", str(tiny_csv), "--order-size", "1000", "-q"]
    args += ["--lambda-over", "0.1", "--lambda-under", "0.1", "--theta-queue", "0.1"]
    outcome = run_main([*args, "--plot", str(figure), "--json-out", str(report)], capsys)
    assert outcome.returncode == 0, outcome.stderr
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # PNG, and no figure.png beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure", "report.json"]


def test_a_horizon_that_would_decide_too_often_is_one_line(
    tiny_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    too_short = run_main(["backtest", "--data", str(tiny_csv), "--model", "ck", "--horizon",
                          "0.0001", "--no-plot", "-q"], capsys)  # fmt: skip
    assert too_short.returncode == 2 and too_short.stdout == ""
    assert too_short.stderr.splitlines() == ["sor: error: --horizon: must be >= 0.001, got 0.0001"]


def test_a_window_with_too_many_decisions_is_refused_before_the_search() -> None:
    from sor.ck.backtest import _check_decisions
    from sor.core.errors import SorError

    day = 86_400 * 10**9
    _check_decisions(day, (0.5, 2.0))  # 172,800 decisions: allowed
    with pytest.raises(SorError, match=r"--horizon 0.2 s over a window of 86,400 s means 432,000"):
        _check_decisions(day, (0.2, 2.0))


def test_the_configuration_sells_and_the_flag_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = Path(__file__).resolve().parents[1] / "golden"
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "sor.toml"
    config.write_text('[order]\nsize = 1000\nside = "sell"\n')
    data = str(golden / "tiny_sell_mbp1.csv")
    sold = run_main(["backtest", "--data", data, "--config", str(config), *QUIET], capsys)
    assert sold.returncode == 0, sold.stderr
    assert json.loads(sold.stdout)["run"]["side"] == "sell"
    args = ["backtest", "--data", data, "--config", str(config), "--side", "buy", *QUIET]
    bought = run_main(args, capsys)
    assert bought.returncode == 0, bought.stderr
    assert "side" not in json.loads(bought.stdout)["run"]  # buy reports are unchanged


@pytest.mark.parametrize("flag", ["--json-out", "--plot"])
def test_a_pipe_or_device_output_is_written_in_place_not_replaced(
    tiny_csv: Path, tmp_path: Path, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # as /dev/null is: renaming a finished file onto it would replace the device for everyone
    import os
    import stat
    import threading

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    others = {"--json-out": str(tmp_path / "out.json"), "--plot": str(tmp_path / "out.png")}
    others[flag] = str(pipe)
    outcome = run_main(["backtest", "--data", str(tiny_csv), "-q", "--json-out",
                        others["--json-out"], "--plot", others["--plot"]], capsys)  # fmt: skip
    reader.join(timeout=60)
    assert outcome.returncode == 0, outcome.stderr
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert not reader.is_alive() and received and received[0]
    if flag == "--json-out":
        assert json.loads(received[0]) == json.loads(outcome.stdout)
    else:
        assert received[0].startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
