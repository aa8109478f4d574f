"""sor evaluate's pure parts: the walk-forward choice worked out by hand, the bootstrap
against a direct computation, the order of days and the finding and splitting of inputs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from sor.core import intervals
from sor.core.errors import SorError
from sor.core.intervals import cluster_bootstrap_mean
from sor.core.search import SearchGrid
from sor.data.instruments import Instrument, instruments, write_instrument
from sor.evaluation import run
from sor.evaluation.days import discover
from sor.evaluation.report import RunRecord, build_evaluation, distinct_days, order_days, score
from sor.evaluation.tasks import DayFailure, DayOutcome, DaySpec, parameter_sets, run_day
from sor.evaluation.walkforward import choose, walk_forward
from sor.static.backtest import BacktestConfig

# (unfilled shares, total cash in nano-dollars) of three parameter sets on five days
DAYS = [
    [(0, 100), (0, 90), (10, 50)],
    [(0, 100), (0, 120), (0, 70)],
    [(5, 100), (0, 100), (0, 100)],
    [(0, 100), (0, 100), (0, 100)],
    [(0, 1), (0, 2), (0, 3)],
]


def test_walk_forward_chooses_on_the_days_before_as_worked_out_by_hand() -> None:
    # K = 2. Day 2 trains on days 0-1: unfilled sums 0, 0, 10 -> sets 0 and 1; cash sums
    # 200 and 210 -> set 0. Day 3 trains on days 1-2: unfilled 5, 0, 0 -> sets 1 and 2;
    # cash 220 and 170 -> set 2. Day 4 trains on days 2-3: unfilled 5, 0, 0; cash 200 and
    # 200, a tie -> the earlier, set 1.
    assert walk_forward(DAYS, 2) == [None, None, 0, 2, 1]
    # K = 1 is the single-day rule on the day before: day 1 <- day 0 (set 1: 0 unfilled,
    # least cash 90), day 2 <- day 1 (set 2: cash 70), day 3 <- day 2 (sets 1, 2 tie: 1),
    # day 4 <- day 3 (all tie: 0).
    assert walk_forward(DAYS, 1) == [None, 1, 2, 1, 0]


def test_choose_over_all_five_days() -> None:
    # unfilled sums: 5, 0, 10 -> set 1 whatever its cash
    assert choose(DAYS) == 1


def test_walk_forward_refuses_no_training_day() -> None:
    with pytest.raises(ValueError):
        walk_forward(DAYS, 0)


def _quantile(means: list[float], q: float) -> float:
    """numpy's linear interpolation, written out."""
    position = q * (len(means) - 1)
    below = int(position)
    above = min(below + 1, len(means) - 1)
    return means[below] + (means[above] - means[below]) * (position - below)


@pytest.mark.parametrize("sizes", [(1,) * 12, (3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5)])
def test_cluster_bootstrap_matches_a_direct_loop(sizes: tuple[int, ...]) -> None:
    """Clusters drawn whole with replacement, the mean over every unit drawn; one unit a
    cluster is the plain bootstrap of a mean over days."""
    values = [((7 * k) % 11 - 5) / 4 for k in range(sum(sizes))]
    labels = [f"c{c}" for c, size in enumerate(sizes) for _ in range(size)]
    got = cluster_bootstrap_mean(values, labels, seed=11, resamples=2000)
    members = [[v for v, c in zip(values, labels, strict=True) if c == f"c{k}"]
               for k in range(len(sizes))]  # fmt: skip
    rng = np.random.default_rng(11)
    means = []
    for _ in range(2000):
        picks = [members[int(i)] for i in rng.integers(0, len(sizes), size=len(sizes))]
        means.append(sum(sum(p) for p in picks) / sum(len(p) for p in picks))
    means.sort()
    assert got.mean == pytest.approx(sum(values) / len(values), abs=1e-12)
    assert got.low == pytest.approx(_quantile(means, 0.025), abs=1e-12)
    assert got.high == pytest.approx(_quantile(means, 0.975), abs=1e-12)
    assert got.low < got.mean < got.high
    assert (got.units, got.clusters, got.why) == (len(values), len(sizes), None)


def test_no_interval_from_too_few_clusters() -> None:
    """Nine hours of many orders give a mean and a reason, not a narrow interval."""
    values = [float(k % 7) for k in range(90)]
    got = cluster_bootstrap_mean(values, [k // 10 for k in range(90)], seed=3, unit="order",
                                 cluster="hour")  # fmt: skip
    assert (got.low, got.high, got.units, got.clusters) == (None, None, 90, 9)
    assert got.mean == pytest.approx(np.mean(values))
    assert got.why == "90 orders from 9 hours: an interval needs at least 10 independent hours"


def test_bootstrap_is_seeded_and_handles_no_value() -> None:
    values = [float(np.sin(k * k)) for k in range(12)]
    labels = list(range(12))
    assert cluster_bootstrap_mean(values, labels, seed=3) == cluster_bootstrap_mean(
        values, labels, seed=3
    )
    assert cluster_bootstrap_mean(values, labels, seed=3) != cluster_bootstrap_mean(
        values, labels, seed=4
    )
    empty = cluster_bootstrap_mean([], [], seed=3)
    assert (empty.mean, empty.low, empty.units, empty.clusters) == (None, None, 0, 0)


def _outcome(instrument: str, start: str, cash: tuple[int, ...]) -> DayOutcome:
    return DayOutcome(
        source=f"{instrument}-{start}.csv", instrument=instrument, sha256=None,
        window={"start": start, "end": start}, head={}, unfilled=(0,) * len(cash),
        cash_nanos=cash, avg_fill_px=(1.0,) * len(cash), baseline_px={}, best=0,
        arbitrary=False,
    )  # fmt: skip


def test_days_are_ordered_and_scored_per_instrument() -> None:
    given = [
        _outcome("2/MSFT", "2024-08-02", (5, 1)),
        _outcome("1/AAPL", "2024-08-03", (1, 5)),
        _outcome("1/AAPL", "2024-08-01", (5, 1)),
        _outcome("2/MSFT", "2024-08-01", (5, 1)),
        _outcome("1/AAPL", "2024-08-02", (5, 1)),
    ]
    days = order_days(given)
    assert [(d.instrument, d.window["start"]) for d in days] == [
        ("1/AAPL", "2024-08-01"), ("1/AAPL", "2024-08-02"), ("1/AAPL", "2024-08-03"),
        ("2/MSFT", "2024-08-01"), ("2/MSFT", "2024-08-02"),
    ]  # fmt: skip
    scored = score(days, 1)
    # each instrument trains on its own days only: MSFT's first day has no choice
    assert [s.chosen for s in scored] == [None, 1, 1, None, 1]
    assert [s.trained_on for s in scored] == [(), (0,), (1,), (), (3,)]


def test_parameter_sets_follow_the_searches_order() -> None:
    config = BacktestConfig(grid=SearchGrid((0.1,), (0.2, 0.3), (0.4,)))
    assert parameter_sets(config, None) == [
        {"lambda_over": 0.1, "lambda_under": 0.2, "theta_queue": 0.4},
        {"lambda_over": 0.1, "lambda_under": 0.3, "theta_queue": 0.4},
    ]
    with_horizons = parameter_sets(config, (0.5, 2.0))
    assert [s["horizon_s"] for s in with_horizons] == [0.5, 2.0, 0.5, 2.0]
    assert with_horizons[1]["lambda_under"] == 0.2


def test_discover_expands_directories_and_globs_in_order(tmp_path: Path) -> None:
    for name in ("b.csv", "a.csv", "c.dbn", "notes.txt"):
        (tmp_path / name).write_text("x")
    assert discover([str(tmp_path)]) == [str(tmp_path / n) for n in ("a.csv", "b.csv", "c.dbn")]
    assert discover([str(tmp_path / "*.csv"), str(tmp_path / "a.csv")]) == [
        str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
    ]  # fmt: skip
    with pytest.raises(SorError, match="no such data file"):
        discover([str(tmp_path / "missing.csv")])
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(SorError, match=r"is not a regular file \(a FIFO\)"):
        discover([str(tmp_path / "pipe.csv")])
    with pytest.raises(SorError, match="no day file found"):
        discover([str(tmp_path / "*.dbn.zst")])


def _two_symbols(tmp_path: Path, at: int | None = None) -> tuple[list[Path], Path]:
    """Ten seconds of AAPL and of MSFT, and one file holding both: MSFT's rows after AAPL's,
    or after AAPL's first ``at`` lines."""
    from sor.data.generate import generate_market

    parts = []
    for symbol, seed in (("AAPL", 1), ("MSFT", 2)):
        path = tmp_path / f"{symbol}.csv"
        generate_market(path, venues=2, seed=seed, symbol=symbol, start="2024-08-01T13:36:32Z",
                        end="2024-08-01T13:36:42Z")  # fmt: skip
        parts.append(path)
    both = tmp_path / "both.csv"
    aapl, msft = (p.read_bytes().splitlines(keepends=True) for p in parts)
    cut = len(aapl) if at is None else at
    both.write_bytes(b"".join([*aapl[:cut], *msft[1:], *aapl[cut:]]))
    return parts, both


def test_a_file_of_two_symbols_is_split_into_two_days(tmp_path: Path) -> None:
    parts, both = _two_symbols(tmp_path)
    found = instruments(both)
    assert [i.symbol for i in found] == ["AAPL", "MSFT"]
    out = tmp_path / "msft.csv"
    write_instrument(both, Instrument(found[1].instrument_id, "MSFT"), out)
    assert out.read_bytes() == parts[1].read_bytes()
    config = BacktestConfig(order_size=300, grid=SearchGrid((0.1,), (0.1,), (0.1,)))
    split = run_day(DaySpec(0, str(both), config))
    alone = [run_day(DaySpec(0, str(p), config)) for p in parts]
    assert isinstance(split, list) and len(split) == 2
    for day, single in zip(split, alone, strict=True):
        assert isinstance(single, list)
        assert day.head == single[0].head
        assert day.cash_nanos == single[0].cash_nanos
    assert [d.instrument for d in split] == [f"{found[0].instrument_id}/AAPL",
                                             f"{found[1].instrument_id}/MSFT"]  # fmt: skip


def test_help_defaults_match_the_library() -> None:
    from sor.cli import evaluate as cli_evaluate

    assert cli_evaluate.DEFAULT_TRAIN_DAYS == run.DEFAULT_TRAIN_DAYS
    assert cli_evaluate.DEFAULT_RESAMPLES == intervals.DEFAULT_RESAMPLES
    from dask.utils import parse_bytes

    from sor.app.settings import EvaluateFlags
    from sor.evaluation import cluster, days

    flags = EvaluateFlags()
    assert cli_evaluate.DEFAULT_WORKER_TIMEOUT_S == cluster.DEFAULT_WORKER_TIMEOUT_S
    assert cli_evaluate.DEFAULT_READ_TIMEOUT_S == days.DEFAULT_READ_TIMEOUT_S
    assert parse_bytes(cli_evaluate.DEFAULT_MAX_DOWNLOAD) == days.DEFAULT_MAX_DOWNLOAD_BYTES
    assert (flags.worker_timeout, flags.read_timeout, flags.max_download) == (
        cluster.DEFAULT_WORKER_TIMEOUT_S, days.DEFAULT_READ_TIMEOUT_S,
        days.DEFAULT_MAX_DOWNLOAD_BYTES,
    )  # fmt: skip


def test_an_fsspec_url_is_listed_and_read_by_the_task(tmp_path: Path) -> None:
    from sor.data.generate import generate_market

    path = tmp_path / "day.csv"
    generate_market(path, venues=2, seed=5, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:42Z")  # fmt: skip
    assert discover([f"local://{tmp_path}"]) == [f"file://{path}"]
    config = BacktestConfig(order_size=300, grid=SearchGrid((0.1,), (0.1,), (0.1,)))
    url = f"local://{path}"
    remote, local = run_day(DaySpec(0, url, config)), run_day(DaySpec(0, str(path), config))
    assert isinstance(remote, list) and isinstance(local, list)
    assert remote[0].source == url
    assert (remote[0].head, remote[0].sha256) == (local[0].head, local[0].sha256)
    missing = run_day(DaySpec(0, f"local://{tmp_path}/missing.csv", config))
    assert isinstance(missing, DayFailure)
    assert missing.message.startswith(f"local://{tmp_path}/missing.csv: no such data file")


def test_a_sell_day_is_chosen_on_the_most_proceeds() -> None:
    def day(cash: tuple[int, ...], side: str) -> DayOutcome:
        return DayOutcome(
            source="d", instrument=None, sha256=None, window={}, head={},
            unfilled=(0, 0, 100), cash_nanos=cash, avg_fill_px=(None,) * 3,
            baseline_px={}, best=0, arbitrary=False, side=side,
        )  # fmt: skip

    # set 2 left shares unfilled: out whatever its cash; of sets 0 and 1, a buy takes the
    # least cash over the two days (90 + 100 < 100 + 95), a sell the most (100 + 95)
    for side, chosen in (("buy", 0), ("sell", 1)):
        days = [day((90, 100, 999), side), day((100, 95, 999), side)]
        assert walk_forward([d.choice_keys for d in days], 2) == [None, None]
        assert choose([d.choice_keys for d in days]) == chosen


def test_a_dbn_file_of_two_instruments_is_split_by_instrument_id(tmp_path: Path) -> None:
    from dbn_encode import csv_to_dbn
    from sor.data.generate import instrument_id

    parts, both = _two_symbols(tmp_path, at=40)
    dbn = csv_to_dbn(both, tmp_path / "both.dbn.zst")
    assert [i.label for i in instruments(dbn)] == ["38", str(instrument_id("MSFT"))]
    config = BacktestConfig(order_size=300, grid=SearchGrid((0.1,), (0.1,), (0.1,)))
    split = run_day(DaySpec(0, str(dbn), config))
    alone = [run_day(DaySpec(0, str(csv_to_dbn(p, tmp_path / f"{p.stem}.dbn")), config))
             for p in parts]  # fmt: skip
    assert isinstance(split, list) and len(split) == 2
    for day, single in zip(split, alone, strict=True):
        assert isinstance(single, list)
        assert day.head == single[0].head and day.cash_nanos == single[0].cash_nanos
    assert [d.instrument for d in split] == ["38", str(instrument_id("MSFT"))]


def test_the_report_records_the_crossing_rule_only_when_not_the_default() -> None:
    from sor.ck.queue import WHOLE
    from sor.ck.router import CKSettings

    config = BacktestConfig(order_size=500, grid=SearchGrid((0.1,), (0.1,), (0.1,)))
    default = run.Evaluation(config, (0.5,), CKSettings()).settings().ck_settings
    whole = run.Evaluation(config, (0.5,), CKSettings(crossing_fill=WHOLE)).settings().ck_settings
    assert default is not None and "crossing_fill" not in default
    assert whole == {**default, "crossing_fill": "whole"}


def test_evaluate_takes_every_model_and_order_flag_of_backtest() -> None:
    import typer

    from sor.cli.main import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    names = {c: {p.name for p in commands[c].params} for c in ("backtest", "evaluate")}
    only_one_window = {
        "start",
        "end",
        "data",
        "kafka",
        "stream",
        "speed",
        "gap_timeout",
        "topic",
        "bootstrap",
        "json_out",
        "plot",
        "no_plot",
        "dry_run",
        "workers",
        "config",
        "quiet",
        "skip_bad_rows",
        "seed",
        "replay",
        "lobster_book",  # one day's orderbook file: no sense for many
        "orders_report",
    }  # the report lists each order of the days
    assert names["backtest"] - only_one_window <= names["evaluate"]
    assert {"crossing_fill", "queue_model", "latency_us", "side", "orders", "arrivals",
            "orders_out", "order_horizon"} <= names["evaluate"]  # fmt: skip


def _day(instrument: str | None, start: str, sha: str | None, source: str = "") -> DayOutcome:
    return DayOutcome(
        source=source or f"{instrument}-{start}-{sha}.csv", instrument=instrument, sha256=sha,
        window={"start": f"{start}T13:30:00Z", "end": f"{start}T14:00:00Z"}, head={},
        unfilled=(0, 0), cash_nanos=(5, 1), avg_fill_px=(1.0, 1.0), baseline_px={}, best=1,
        arbitrary=False,
    )  # fmt: skip


def test_a_csv_day_and_a_dbn_day_of_one_instrument_are_one_series() -> None:
    # a CSV names the instrument 38/AAPL, a DBN record only its id 38: one series
    given = [_day("38/AAPL", f"2024-08-0{k}", str(k)) for k in (1, 3)]
    given += [_day("38", f"2024-08-0{k}", str(k)) for k in (2, 4)]
    days = order_days(given)
    assert [d.window["start"][:10] for d in days] == [f"2024-08-0{k}" for k in (1, 2, 3, 4)]
    # K = 1: every day after the first is scored, whichever format it came in
    assert [s.chosen is not None for s in score(days, 1)] == [False, True, True, True]


def test_a_repeated_input_is_counted_once_and_a_second_file_of_a_day_is_refused() -> None:
    first = _day("38/AAPL", "2024-08-01", "aa", source="days/a.csv")
    again = _day("38/AAPL", "2024-08-01", "aa", source="copy/a.csv")
    kept, dropped = distinct_days([first, again, _day("38/AAPL", "2024-08-02", "bb")])
    assert (len(kept), dropped) == (2, ["copy/a.csv"])
    # another instrument's file with the same bytes' day is its own day
    assert len(distinct_days([first, _day("7/MSFT", "2024-08-01", "aa")])[0]) == 2
    other = _day("38", "2024-08-01", "cc", source="days/a.dbn")
    with pytest.raises(
        SorError, match=re.escape("days/a.csv and days/a.dbn both hold 38 on 2024-08-01")
    ):
        distinct_days([first, other])


def test_nothing_to_score_is_an_error_saying_how_many_days_there_are() -> None:
    config = BacktestConfig(order_size=300, grid=SearchGrid((0.1,), (0.1, 0.2), (0.1,)))
    settings = RunRecord(config, None, None, train_days=4, seed=1, resamples=10)
    given = [_day("1/AAPL", f"2024-08-0{k}", f"a{k}") for k in (1, 2, 3)]
    given += [_day("2/MSFT", f"2024-08-0{k}", f"m{k}") for k in (1, 2, 3)]
    with pytest.raises(SorError, match="--train-days 4 days, and the most any has is 3"):
        build_evaluation(given, settings)
    # with K = 2 each instrument has one day to score
    assert sum(s.chosen is not None for s in score(order_days(given), 2)) == 2


def test_a_closing_clients_abandoned_wait_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from distributed.client import AllExit

    import sor.evaluation.cluster  # noqa: F401 -- installs the filter

    for error in (AllExit(), ValueError("kept")):
        try:
            raise error
        except (AllExit, ValueError):
            logging.getLogger("asyncio").error("Task exception was never retrieved", exc_info=True)
    assert [r.exc_info[1].__class__.__name__ for r in caplog.records if r.exc_info] == [
        "ValueError"
    ]
