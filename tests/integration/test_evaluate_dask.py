"""sor evaluate on real Dask clusters: a LocalCluster and a scheduler with two workers
started here as separate processes on loopback give byte-identical reports, and each
day's figures are those of sor backtest on that day alone."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from distributed.diagnostics.plugin import WorkerPlugin

from cli_run import REPO, run_main
from sor.data.generate import generate_market

DAYS = 4
GRID = ["--lambda-over", "0.1,0.4", "--lambda-under", "0.1", "--theta-queue", "0.1,0.6"]
STATIC = ["--order-size", "3000", *GRID]
CK = ["--model", "ck", "--order-size", "300", "--lambda-over", "0.05", "--lambda-under",
      "0.01,0.2", "--theta-queue", "0.005", "--horizon", "2"]  # fmt: skip
HEAD = ("best_parameters", "optimized", "baselines", "savings_vs_baselines_bps")


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 40-second days of four venues, one seed and one date each."""
    folder = tmp_path_factory.mktemp("days")
    for day in range(DAYS):
        generate_market(
            folder / f"day{day}.csv", venues=4, seed=40 + day, price_moves=1.0,
            start=f"2024-08-0{day + 1}T13:36:32Z", end=f"2024-08-0{day + 1}T13:37:12Z",
        )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Dask scheduler and two one-thread workers, each its own process on loopback, shared
    by the module's three tests that use one (a start costs several seconds)."""
    folder = tmp_path_factory.mktemp("dask")
    address_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    python = [sys.executable, "-m"]
    processes = [
        subprocess.Popen(
            [*python, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(address_file)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not address_file.is_file() or not address_file.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [*python, "distributed.cli.dask_worker", address, "--nthreads", "1",
                     "--no-dashboard", "--host", "127.0.0.1", "--local-directory", str(folder)],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        # the workers first: a worker whose scheduler is gone spends seconds trying to say
        # goodbye to it
        for group in (processes[1:], processes[:1]):
            for process in group:
                process.terminate()
            for process in group:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _keys(value: object) -> set[str]:
    """Every key of a report at any depth but the venue ids, which are data."""
    if isinstance(value, list):
        return set().union(*(_keys(item) for item in value))
    if not isinstance(value, dict):
        return set()
    return {k for k in value if not k.isdigit()}.union(*(_keys(v) for v in value.values()))


def _evaluate(days: Path, out: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> bytes:
    outcome = run_main(
        ["evaluate", "--data", str(days), "--train-days", "2", "--json-out", str(out),
         "--quiet", *flags],
        capsys,
    )  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    assert json.loads(outcome.stdout) == json.loads(out.read_text())["summary"]
    return out.read_bytes()


def _backtest(day: Path, out: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> dict:
    outcome = run_main(
        ["backtest", "--data", str(day), "--json-out", str(out), "--no-plot", "--quiet", *flags],
        capsys,
    )  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    report: dict = json.loads(outcome.stdout)
    return report


def test_local_and_separate_cluster_agree_and_days_match_sor_backtest(
    days: Path, scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = _evaluate(days, tmp_path / "local.json", capsys, *STATIC, "--workers", "2",
                      "--plot", str(tmp_path / "local.png"))  # fmt: skip
    remote = _evaluate(days, tmp_path / "remote.json", capsys, *STATIC, "--scheduler",
                       scheduler, "--plot", str(tmp_path / "remote.png"))  # fmt: skip
    assert local == remote
    assert (tmp_path / "local.png").read_bytes() == (tmp_path / "remote.png").read_bytes()
    report = json.loads(local)
    assert [d["input"] for d in report["days"]] == [str(days / f"day{k}.csv") for k in range(DAYS)]
    for k, day in enumerate(report["days"]):
        alone = _backtest(days / f"day{k}.csv", tmp_path / f"day{k}.json", capsys, *STATIC)
        assert {key: day[key] for key in HEAD} == {key: alone[key] for key in HEAD}
        assert day["input_sha256"] == alone["run"]["input_sha256"]
        table = [(row["total_fill"], row["total_cash"]) for row in alone["search"]["table"]]
        assert [(3000 - s["unfilled"], s["total_cash"]) for s in day["search"]] == table
    assert [d["out_of_sample"] is None for d in report["days"]] == [True, True, False, False]
    summary = report["summary"]["savings_vs_baselines_bps"]
    assert set(summary) == {"best_ask", "twap", "vwap"}
    documented = set(re.findall(r"\w+", (REPO / "docs" / "evaluate.md").read_text()))
    assert _keys(report) <= documented
    assert all(summary[b]["out_of_sample"]["days"] == 2 for b in summary)


def test_the_same_on_a_different_number_of_local_workers(
    days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = _evaluate(days, tmp_path / "one.json", capsys, *STATIC, "--workers", "1", "--no-plot")
    assert json.loads(one)["run"]["model"] == "static"
    # compared with the two-worker run of the test above, through its figures
    two = _evaluate(days, tmp_path / "two.json", capsys, *STATIC, "--workers", "2", "--no-plot")
    assert one == two


def test_model_ck_days_match_sor_backtest(
    days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = json.loads(_evaluate(days, tmp_path / "ck.json", capsys, *CK, "--workers", "2",
                                  "--no-plot"))  # fmt: skip
    assert report["run"]["horizons_s"] == [2.0]
    for k in (0, 3):
        alone = _backtest(days / f"day{k}.csv", tmp_path / f"ck{k}.json", capsys, *CK)
        day = report["days"][k]
        assert {key: day[key] for key in HEAD} == {key: alone[key] for key in HEAD}
    assert set(report["summary"]["savings_vs_baselines_bps"]) == {
        "best_ask", "twap", "vwap", "static",
    }  # fmt: skip


def test_a_bad_day_file_is_one_line_naming_it(
    days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    good = (days / "day0.csv").read_text().splitlines()
    bad.write_text("\n".join([*good[:5], "2024-08-01T13:36:33Z,oops", *good[5:8]]) + "\n")
    outcome = run_main(
        ["evaluate", "--data", str(days / "day0.csv"), str(bad), "--train-days", "1",
         "--workers", "1", "--quiet", "--no-plot", "--json-out", str(tmp_path / "e.json")],
        capsys,
    )  # fmt: skip
    assert outcome.returncode == 2
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sor: error: {bad}, line 6"), outcome.stderr


def test_a_sell_evaluation_matches_sor_backtest_sell_and_chooses_the_most_proceeds(
    days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sell = [*STATIC, "--side", "sell"]
    report = json.loads(_evaluate(days, tmp_path / "sell.json", capsys, *sell, "--workers", "2",
                                  "--no-plot"))  # fmt: skip
    assert report["run"]["side"] == "sell"
    assert set(report["summary"]["savings_vs_baselines_bps"]) == {"best_bid", "twap", "vwap"}
    for k, day in enumerate(report["days"]):
        alone = _backtest(days / f"day{k}.csv", tmp_path / f"sell{k}.json", capsys, *sell)
        assert {key: day[key] for key in HEAD} == {key: alone[key] for key in HEAD}
    for k in (2, 3):  # trained on the two days before: fewest unfilled, then most proceeds
        before = report["days"][k - 2 : k]
        totals = [
            (sum(d["search"][j]["unfilled"] for d in before),
             -sum(Decimal(str(d["search"][j]["total_cash"])) for d in before), j)
            for j in range(len(before[0]["search"]))
        ]  # fmt: skip
        assert report["days"][k]["out_of_sample"]["set"] == min(totals)[2]


def test_a_blotter_over_the_days_scores_each_order_as_sor_backtest_routes_it(
    days: Path, scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # two orders on each of the first three days, none on the last (left unread)
    rows = [
        ("b0", "2024-08-01T13:36:40Z", "buy", "3000", "", "x"),
        ("s0", "2024-08-01T13:36:55Z", "sell", "2000", "2024-08-01T13:37:05Z", "y"),
        ("b1", "2024-08-02T13:36:35Z", "buy", "5000", "", "x"),
        ("s1", "2024-08-02T13:37:00Z", "sell", "1000", "", "y"),
        ("s2", "2024-08-03T13:36:45Z", "sell", "4000", "2024-08-03T13:37:10Z", "x"),
        ("b2", "2024-08-03T13:36:50Z", "buy", "2500", "", "y"),
    ]
    header = "id,time,side,size,end,desk\n"
    blotter = tmp_path / "blotter.csv"
    blotter.write_text(header + "".join(",".join(row) + "\n" for row in rows))
    out = tmp_path / "orders.json"
    outcome = run_main(
        ["evaluate", "--data", str(days), "--orders", str(blotter), "--train-days", "1",
         "--scheduler", scheduler, "--json-out", str(out), "--no-plot", "--quiet", *GRID],
        capsys,
    )  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert json.loads(outcome.stdout) == summary
    assert (summary["days"], summary["scored_days"], summary["orders"]) == (3, 2, 6)
    assert (summary["scored_orders"], summary["days_without_orders"]) == (4, 1)
    for name in ("best_quote", "twap", "vwap"):
        oos = summary["savings_vs_baselines_bps"][name]["out_of_sample"]
        assert (oos["orders"], oos["dates"], oos["ci95"]) == (4, 2, None)
        assert oos["no_interval"] == (
            "4 orders from 2 trading dates: an interval needs at least 10 independent trading dates"
        )
    # the scored day 08-03 under its walk-forward set: sor backtest of its orders alone
    day = report["days"][2]
    assert day["input"] == str(days / "day2.csv") and day["out_of_sample"]["trained_on"] == [1]
    chosen = day["out_of_sample"]["parameters"]
    alone, table = tmp_path / "alone.csv", tmp_path / "table.csv"
    alone.write_text(header + "".join(",".join(row) + "\n" for row in rows[4:]))
    one_set = [f"--{key.replace('_', '-')}={value}" for key, value in chosen.items()]
    _backtest(days / "day2.csv", tmp_path / "alone.json", capsys, "--orders", str(alone),
              "--orders-report", str(table), *one_set)  # fmt: skip
    with table.open(newline="") as handle:
        expected = {(r["id"], r["strategy"]): r for r in csv.DictReader(handle)}
    for order in report["orders"][4:]:
        scored = order["out_of_sample"]
        figures = {"router": scored["router"], **order["baselines"]}
        for strategy, mine in figures.items():
            row = expected[(order["id"], strategy)]
            assert Decimal(str(mine["total_cash"])) == Decimal(row["total_cash"])
            assert mine["total_fill"] == int(row["total_fill"])
            assert mine["avg_fill_px"] == float(row["avg_fill_px"])
            assert mine["shortfall_bps"] == float(row["shortfall_bps"])
            if strategy != "router":
                saving = scored["savings_vs_baselines_bps"][strategy]
                assert saving == float(row["router_saving_bps"])
        assert order["end"] == expected[(order["id"], "router")]["end"]
        assert order["carried"] == {"desk": expected[(order["id"], "router")]["desk"]}
    documented = set(re.findall(r"\w+", (REPO / "docs" / "evaluate.md").read_text()))
    shown = {k: v for k, v in report.items() if k != "tca"}  # tca's keys are report.md's
    assert _keys(shown) - {"desk"} <= documented


def test_orders_drawn_per_day_written_out_repeat_the_run_under_orders(
    days: Path, scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drawn, first, again = tmp_path / "drawn.csv", tmp_path / "a.json", tmp_path / "o.json"
    common = ["--data", str(days), "--train-days", "1", "--scheduler", scheduler, "--no-plot",
              "--quiet", "--resamples", "100", *GRID]  # fmt: skip
    outcome = run_main(["evaluate", *common, "--arrivals", "360", "--order-horizon", "10",
                        "--arrival-size-median", "1000", "--orders-out", str(drawn),
                        "--json-out", str(first)], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    report = json.loads(first.read_text())
    orders = report["orders"]
    assert report["summary"]["days"] == DAYS and len(orders) > DAYS  # each day drew some
    assert (
        report["run"]["arrivals"]["rate_per_hour"] == 360 and report["run"]["arrivals"]["seed"] == 7
    )
    assert report["run"]["orders_file"] == str(drawn) and report["run"]["order_horizon_s"] == 10
    # an order ends ten seconds after its time, at most with its day
    assert all(o["end"] <= report["days"][o["day"]]["window"]["end"] for o in orders)
    assert [o["id"] for o in orders] == [str(k + 1) for k in range(len(orders))]
    router = report["tca"]["strategies"]["router"]  # measured over days, in each day's task
    assert router["shortfall_vs_interval_vwap_bps"] is not None
    assert router["markout_bps"]["1"] is not None
    outcome = run_main(["evaluate", *common, "--orders", str(drawn), "--json-out", str(again)],
                       capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    repeated = json.loads(again.read_text())
    assert repeated.keys() == report.keys()
    for key in report.keys() - {"run"}:  # run says where the orders came from
        assert json.dumps(repeated[key]) == json.dumps(report[key]), key


class _Starts(WorkerPlugin):
    """Append ``key pid`` to a file each time a worker starts running a task."""

    name = "test-task-starts"

    def __init__(self, log: str) -> None:
        self.log = log

    def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
        if finish == "executing":
            with open(self.log, "a") as handle:
                handle.write(f"{key} {os.getpid()}\n")


def test_a_day_whose_worker_is_killed_is_run_again_with_the_same_result(
    days: Path, tmp_path: Path
) -> None:
    from sor.ck.router import CKSettings
    from sor.core.search import SearchGrid
    from sor.evaluation.cluster import dask_client, run_days
    from sor.evaluation.run import Evaluation
    from sor.evaluation.tasks import run_day
    from sor.static.backtest import BacktestConfig

    grid = SearchGrid((0.05,), (0.01, 0.2), (0.005,))
    evaluation = Evaluation(BacktestConfig(model="ck", order_size=300, grid=grid),
                            horizons_s=(2.0,), ck_settings=CKSettings(), train_days=2)  # fmt: skip
    specs = [evaluation.spec(k, str(p)) for k, p in enumerate(sorted(days.glob("day*.csv")))]
    alone = [outcome for spec in specs for outcome in run_day(spec)]  # type: ignore[union-attr]
    log = tmp_path / "starts.txt"
    log.touch()
    with dask_client(None, 2) as client:
        client.register_plugin(_Starts(str(log)))
        result: list = []
        runner = threading.Thread(target=lambda: result.append(run_days(client, specs, quiet=True)))
        runner.start()
        deadline = time.monotonic() + 60
        while not log.read_text().strip():  # kill the first worker to start a day, mid-day
            assert time.monotonic() < deadline, "no day started"
            time.sleep(0.005)
        victim_key, victim_pid = log.read_text().split()[:2]
        os.kill(int(victim_pid), signal.SIGKILL)
        runner.join(timeout=120)
        assert not runner.is_alive()
    starts = [line.split() for line in log.read_text().splitlines()]
    again = [pid for key, pid in starts if key == victim_key]
    assert len(again) == 2 and again[1] != victim_pid, starts  # run again, by another process
    assert result == [alone]


def _parser_threads() -> tuple[str | None, int]:
    import polars as pl

    return os.environ.get("POLARS_MAX_THREADS"), pl.thread_pool_size()


def test_local_workers_parse_on_one_thread_and_this_process_is_left_as_it_was() -> None:
    # the days run in parallel: a parse on every core in every worker would make them
    # take turns (the variable must be there before the worker imports anything)
    from sor.evaluation.cluster import dask_client

    before = os.environ.get("POLARS_MAX_THREADS")
    with dask_client(None, 2) as client:
        assert sorted(client.run(_parser_threads).values()) == [("1", 1), ("1", 1)]
    assert os.environ.get("POLARS_MAX_THREADS") == before


def test_csv_and_dbn_days_of_one_instrument_are_one_series_and_each_file_counts_once(
    days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbn_encode import csv_to_dbn

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for k in range(DAYS):
        (mixed / f"day{k}.csv").write_bytes((days / f"day{k}.csv").read_bytes())
        later = tmp_path / f"later{k}.csv"
        generate_market(
            later, venues=4, seed=60 + k, price_moves=1.0,
            start=f"2024-08-{k + 11}T13:36:32Z", end=f"2024-08-{k + 11}T13:36:52Z",
        )  # fmt: skip
        csv_to_dbn(later, mixed / f"later{k}.dbn")
    # the same folder by a relative and an absolute path, one day again through a link and
    # one as a copy
    (tmp_path / "link.csv").symlink_to(mixed / "day0.csv")
    (tmp_path / "copy.csv").write_bytes((mixed / "day1.csv").read_bytes())
    monkeypatch.chdir(tmp_path)
    outcome = run_main(
        ["evaluate", "--data", "mixed", "--data", str(mixed), "--data", "link.csv",
         "--data", "copy.csv", "--train-days", "3", "--json-out", "out.json", "--quiet", "--no-plot", "--workers",
         "1", *STATIC],
        capsys,
    )  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    assert (
        outcome.stderr.strip() == "sor: copy.csv repeats an earlier input's content: counted once"
    )
    summary = json.loads(outcome.stdout)
    # eight days of instrument 38 (AAPL), four in CSV and four in DBN: K = 3 leaves five
    assert (summary["days"], summary["scored_days"]) == (8, 5)
    report = json.loads((tmp_path / "out.json").read_text())
    assert [d["instrument"] for d in report["days"]] == ["38/AAPL"] * 4 + ["38"] * 4
    # a second file of a day already given is refused, naming both
    (tmp_path / "again").mkdir()
    generate_market(tmp_path / "again" / "other.csv", venues=4, seed=99, price_moves=1.0,
                    start="2024-08-01T13:36:32Z", end="2024-08-01T13:36:52Z")  # fmt: skip
    refused = run_main(
        ["evaluate", "--data", "mixed", "--data", "again", "--train-days", "3", "--json-out",
         "out2.json", "--quiet", "--no-plot", "--workers", "1", *STATIC],
        capsys,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "both hold 38/AAPL on 2024-08-01" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
