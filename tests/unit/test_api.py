"""The Python API against the command line: the same settings give the same report and
figure byte for byte, the same errors the same message; its tables hold what the report
sums up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import sor
from cli_run import REPO, run_main
from sor.ck.backtest import DEFAULT_CK_GRID
from sor.data.generate import generate_market
from sor.static.backtest import BacktestConfig

START = "2024-08-01T13:36:32Z"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "m.csv"
    generate_market(path, venues=3, seed=4, start=START, end="2024-08-01T13:36:52Z", depth=10)
    return path


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    outcome = run_main(["backtest", "-q", *args], capsys)
    assert outcome.returncode == 0, outcome.stderr
    return outcome.stdout


@pytest.mark.parametrize(
    ("flags", "settings"),
    [
        ([], {}),
        (["--side", "sell", "--order-size", "3000", "--lambda-over", "0.1,0.4", "--fee", "0.002"],
         {"side": "sell", "order_size": 3000, "lambda_over": [0.1, 0.4], "fee": 0.002}),
        (["--model", "ck", "--horizon", "1"], {"model": "ck", "horizon": 1.0}),
        (["--model", "ck", "--side", "sell", "--queue-model", "probabilistic",
          "--latency-us", "500", "--theta-queue", "0.005"],
         {"model": "ck", "side": "sell", "queue_model": "probabilistic", "latency_us": 500,
          "theta_queue": 0.005}),
    ],
    ids=["static-defaults", "static-sell", "ck-buy", "ck-sell"],
)  # fmt: skip
def test_the_api_writes_what_the_command_writes(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    flags: list[str], settings: dict[str, object],
) -> None:  # fmt: skip
    cli_json, cli_png = tmp_path / "cli.json", tmp_path / "cli.png"
    stdout = _cli(["--data", str(market), "--json-out", str(cli_json), "--plot", str(cli_png),
                   *flags], capsys)  # fmt: skip
    api_json, api_png = tmp_path / "api.json", tmp_path / "api.png"
    run = sor.backtest(str(market), json_out=api_json, plot=api_png, **settings)
    assert run.json == stdout == cli_json.read_text() == api_json.read_text()
    assert api_png.read_bytes() == cli_png.read_bytes()
    assert run.plot(tmp_path / "again.png") == tmp_path / "again.png"
    assert (tmp_path / "again.png").read_bytes() == cli_png.read_bytes()
    assert run.model == json.loads(stdout)["run"]["model"]


def test_a_configuration_file_is_read_as_the_command_reads_it(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    config = tmp_path / "sor.toml"
    config.write_text('[order]\nsize = 2000\nside = "sell"\n[costs]\nfee = 0.001\n'
                      "[search]\nlambda_under = [0.3]\n")  # fmt: skip
    with_flag = _cli(["--data", str(market), "--no-plot", "--json-out", os.devnull,
                      "--config", str(config), "--order-size", "1000"], capsys)  # fmt: skip
    assert sor.backtest(market, config=config, order_size=1000).json == with_flag
    monkeypatch.setenv("SOR_CONFIG", str(config))
    from_variable = _cli(["--data", str(market), "--no-plot", "--json-out", os.devnull], capsys)
    report = sor.backtest(market).report
    assert json.loads(from_variable) == report
    run = report["run"]
    assert (run["order_size"], run["side"], run["grid"]["lambda_under"]) == (2000, "sell", [0.3])


def test_a_dataframe_is_backtested_as_the_file_it_came_from(
    market: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from_file = json.loads(_cli(["--data", str(market), "--no-plot", "--json-out", os.devnull],
                                capsys))  # fmt: skip
    for frame, kind in ((pl.read_csv(market), "polars"), (pd.read_csv(market), "pandas")):
        report = sor.backtest(frame).report
        run, file_run = report["run"], dict(from_file["run"])
        assert (
            run.pop("input")
            == f"{kind}.DataFrame ({file_run.pop('input')[:0]}{file_run['rows_read']} rows)"
        )
        assert len(run.pop("input_sha256")) == len(file_run.pop("input_sha256")) == 64
        assert run == file_run
        assert {**report, "run": None} == {**from_file, "run": None}


def test_the_tables_hold_what_the_report_sums(market: Path) -> None:
    for model in ("static", "ck"):
        run = sor.backtest(market, model=model, side="sell", order_size=2000)
        report, fills, search = run.report, run.fills, run.search
        names = fills["strategy"].unique(maintain_order=True).to_list()
        assert names[0] == "router" and "best_bid" in names and "best_ask" not in names
        shares = dict(fills.group_by("strategy").agg(pl.col("shares").sum()).iter_rows())
        assert shares["router"] == report["optimized"]["total_fill"] > 0
        assert fills["ts_event"].dtype == pl.Datetime("ns", "UTC")
        assert (fills["price"] * 1e9 - fills["price_nanos"]).abs().max() < 1  # type: ignore[operator]
        assert search["chosen"].sum() == 1
        chosen = search.filter(pl.col("chosen")).row(0, named=True)
        best = report["best_parameters"]
        assert {k: chosen[k] for k in best} == best
        assert search.height == report["search"]["parameter_sets"]
        assert search["filled"].max() <= 2000


@pytest.mark.parametrize(
    ("flags", "settings"),
    [
        (["--order-size", "150"], {"order_size": 150}),
        (["--side", "hold"], {"side": "hold"}),
        (["--lambda-over", "-1"], {"lambda_over": -1.0}),
        (["--queue-model", "fifo"], {"queue_model": "fifo"}),
        (["--start", "2024-08-01T14:00:00Z", "--end", "2024-08-01T13:00:00Z"],
         {"start": "2024-08-01T14:00:00Z", "end": "2024-08-01T13:00:00Z"}),
        (["--model", "ck", "--horizon", "0"], {"model": "ck", "horizon": 0}),
    ],
)  # fmt: skip
def test_a_bad_setting_raises_the_line_the_command_prints(
    market: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
    settings: dict[str, object],
) -> None:  # fmt: skip
    outcome = run_main(["backtest", "-q", "--data", str(market), "--no-plot", *flags], capsys)
    assert outcome.returncode == 2
    line = outcome.stderr.strip().removeprefix("sor: error: ")
    with pytest.raises(sor.ConfigError) as raised:
        sor.backtest(market, **settings)
    assert str(raised.value) == line


def test_bad_data_raises_the_line_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ts_event,price\n1,2\n")
    outcome = run_main(["backtest", "-q", "--data", str(bad), "--no-plot"], capsys)
    with pytest.raises(sor.DataError) as raised:
        sor.backtest(bad)
    assert outcome.stderr == f"sor: error: {raised.value}\n"


def test_an_unknown_setting_or_data_kind_is_named(market: Path) -> None:
    with pytest.raises(sor.ConfigError, match="unknown setting 'ordersize'; the settings are: "):
        sor.backtest(market, ordersize=100)
    with pytest.raises(sor.ConfigError, match=r"got builtins\.dict"):
        sor.backtest({"ts_event": [1]})


def test_the_api_refuses_to_overwrite_its_input(market: Path) -> None:
    with pytest.raises(sor.SorError, match="is the input file"):
        sor.backtest(market, json_out=market)


def test_a_ck_configuration_built_by_hand_searches_the_ck_grid() -> None:
    assert BacktestConfig(model="ck").grid == DEFAULT_CK_GRID
    assert BacktestConfig().grid != DEFAULT_CK_GRID


def test_importing_sor_loads_no_numerical_library() -> None:
    code = "import sys, sor; print(sorted({'numpy', 'polars', 'numba'} & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_every_example_of_docs_api_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    page = (REPO / "docs" / "api.md").read_text()
    commands = re.findall(r"^sor (generate [^\n]+)$", page, flags=re.MULTILINE)
    assert len(commands) == 2
    monkeypatch.chdir(tmp_path)
    for command in commands:
        outcome = run_main([*command.split(), "--quiet"], capsys)
        assert outcome.returncode == 0, (command, outcome.stderr)
    namespace: dict[str, object] = {}
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    assert len(blocks) >= 8
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), namespace)
    assert (tmp_path / "results.png").stat().st_size > 0


def test_fills_and_stats_write_what_their_commands_write(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli, api = tmp_path / "cli", tmp_path / "api"
    cli.mkdir(), api.mkdir()
    flags = ["--size", "100,500", "--horizon", "2", "--side", "sell", "--every", "2"]
    outcome = run_main(["fills", "--data", str(market), "-q", *flags, "--json-out",
                        str(cli / "f.json"), "--orders-out", str(cli / "f.csv"), "--plot",
                        str(cli / "f.png")], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    fills = sor.fills(market, size=[100, 500], horizon=2, side=sor.Side.SELL, every=2,
                      json_out=api / "f.json", orders_out=api / "f.csv", plot=api / "f.png")  # fmt: skip
    for name in ("f.json", "f.csv", "f.png"):
        assert (api / name).read_bytes() == (cli / name).read_bytes(), name
    assert fills.text() + "\n" == outcome.stdout
    table = fills.table
    assert table.height == fills.report["run"]["orders_placed"] == len(fills.orders)
    assert table["filled"].sum() == sum(sum(row.fill_qty) for row in fills.orders)

    outcome = run_main(["stats", str(market), "-q", "--lags", "5", "--tick", "0.02", "--plot",
                        str(cli / "s.png")], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    stats = sor.stats(market, lags=5, tick=0.02, plot=api / "s.png")
    assert stats.text() + "\n" == outcome.stdout
    assert (api / "s.png").read_bytes() == (cli / "s.png").read_bytes()


def test_fills_and_stats_raise_the_lines_their_commands_print(
    market: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [(["fills", "--data", str(market), "--every", "0"], sor.fills, {"every": 0}),
             (["fills", "--data", str(market), "--size", "100,100"], sor.fills, {"size": [100, 100]}),
             (["stats", str(market), "--horizons", "-1"], sor.stats, {"horizons": -1.0}),
             (["stats", str(market), "--start", "2030-01-01T00:00:00Z"], sor.stats,
              {"start": "2030-01-01T00:00:00Z"})]  # fmt: skip
    for args, call, settings in cases:
        outcome = run_main([*args, "-q", "--no-plot"], capsys)
        assert outcome.returncode == 2, args
        with pytest.raises(sor.SorError) as raised:
            call(market, **settings)
        assert outcome.stderr == f"sor: error: {raised.value}\n", args


def test_evaluate_writes_what_its_command_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    days = tmp_path / "days"
    days.mkdir()
    for day in range(3):
        generate_market(days / f"day{day}.csv", venues=2, seed=60 + day, price_moves=1.0,
                        start=f"2024-08-0{day + 1}T13:36:32Z",
                        end=f"2024-08-0{day + 1}T13:36:52Z")  # fmt: skip
    flags = [
        "--train-days",
        "1",
        "--resamples",
        "100",
        "--workers",
        "1",
        "--lambda-over",
        "0.1,0.4",
        "--lambda-under",
        "0.2",
        "--theta-queue",
        "0.1",
        "--side",
        "sell",
    ]
    outcome = run_main(["evaluate", "--data", str(days), "-q", *flags, "--json-out",
                        str(tmp_path / "cli.json"), "--plot", str(tmp_path / "cli.png")], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    result = sor.evaluate(days, train_days=1, resamples=100, workers=1, lambda_over=[0.1, 0.4],
                          lambda_under=0.2, theta_queue=0.1, side="sell",
                          json_out=tmp_path / "api.json", plot=tmp_path / "api.png")  # fmt: skip
    assert (tmp_path / "api.json").read_text() == (tmp_path / "cli.json").read_text()
    assert (tmp_path / "api.png").read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert json.loads(outcome.stdout) == result.summary
    with pytest.raises(sor.ConfigError, match="unknown setting 'start'"):
        sor.evaluate(days, start="2024-08-01T13:36:32Z")


def test_a_figure_in_an_unknown_format_is_refused_before_the_run(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "figure.bmp"
    outcome = run_main(["backtest", "-q", "--data", str(market), "--plot", str(target),
                        "--json-out", os.devnull], capsys)  # fmt: skip
    with pytest.raises(sor.SorError) as raised:
        sor.backtest(market, plot=target)
    assert outcome.stderr == f"sor: error: {raised.value}\n"
    assert not target.exists()
