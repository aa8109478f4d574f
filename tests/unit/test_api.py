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


def test_every_example_of_docs_api_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    page = (REPO / "docs" / "api.md").read_text()
    command = re.search(r"```sh\n(sor generate [^\n]+)\n```", page)
    assert command is not None
    generate = command.group(1).split()[1:]
    monkeypatch.chdir(tmp_path)
    outcome = subprocess.run([sys.executable, "-m", "sor", *generate, "--quiet"],
                             env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                             capture_output=True, text=True)  # fmt: skip
    assert outcome.returncode == 0, (generate, outcome.stderr)
    namespace: dict[str, object] = {}
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    assert len(blocks) >= 5
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), namespace)
    assert (tmp_path / "results.png").stat().st_size > 0
