"""sor stats --compare: a file against itself, against a busier one, venues matched by
publisher id, the command's exit status and errors, and the shared LOBSTER day."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cli_run import run_main
from figure_bounds import texts_outside
from shared_data import amzn_day
from sor.app.compare import CompareResult, CompareSettings, run
from sor.app.stats import StatsSettings
from sor.data.generate import generate_market
from sor.stylized.compare import FAIL, NOT_COMPARED, PASS, TOLERANCES, Tolerance
from sor.stylized.compare_figure import compare_figure

START, END = "2024-08-01T13:36:32Z", "2024-08-01T13:37:17Z"  # 45 s: four 10-s intervals


@pytest.fixture(scope="module")
def markets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two venues at the default rate, the same at twice the rate, three venues."""
    folder = tmp_path_factory.mktemp("compare")
    files = {"base": folder / "base.csv", "busy": folder / "busy.csv",
             "three": folder / "three.csv"}  # fmt: skip
    generate_market(files["base"], venues=2, start=START, end=END, depth=1)
    generate_market(files["busy"], venues=2, start=START, end=END, depth=1,
                    rate_per_venue=222.0)  # fmt: skip
    generate_market(files["three"], venues=3, start=START, end=END, depth=1, seed=8)
    return files


def _compare(real: Path, generated: Path) -> CompareResult:
    return run(real, generated, CompareSettings(StatsSettings(), fill_every_s=1.0))


def _entries(result: CompareResult) -> dict[tuple[str, str], dict[str, object]]:
    compared = result.report["compare"]
    scopes = {**compared["venues"], "overall": compared["overall"]}
    return {(venue, name): entry for venue, facts in scopes.items()
            for name, entry in facts.items()}  # fmt: skip


def test_a_file_compared_with_itself_passes_every_fact_at_a_ratio_of_one(
    markets: dict[str, Path],
) -> None:
    result = _compare(markets["base"], markets["base"])
    entries = _entries(result)
    assert {venue for venue, _ in entries} == {"2", "9", "overall"}
    assert len(entries) == 3 * len(TOLERANCES)
    for (venue, name), entry in entries.items():
        if name == "p_any_fill_60s":  # no 60-s order fits a 45-s file
            assert entry["result"] == NOT_COMPARED
            assert entry["reason"] == "real: no order placed; generated: no order placed"
            continue
        if name == "volatility_bps_60s":  # nor a 60-s interval
            assert entry["result"] == NOT_COMPARED
            why = "fewer than two whole 60-s intervals with a mid"
            assert entry["reason"] == f"real: undefined ({why}); generated: undefined ({why})"
            continue
        assert entry["result"] == PASS, (venue, name, entry)
        assert entry["difference"] == 0.0 and entry["real"] == entry["generated"]
        assert entry["ratio"] in (1.0, None)  # None: a real value of 0
    assert result.passed and result.report["compare"]["failed"] == []
    assert result.report["compare"]["counts"] == {"pass": 30, "fail": 0, "not_compared": 6}
    assert result.report["compare"]["unmatched"] == {"real_only": [], "generated_only": []}
    fills = result.report["compare"]["real"]["fill_study"]
    assert fills["queue_model"] == "conservative" and fills["size"] == 100  # MBP: no FIFO
    assert result.report["compare"]["tolerances"]["messages_per_s"] == {"relative": 0.1}


def _rate(path: Path, venue: int) -> float:
    """Rows per second of the file's span, counted here from the CSV itself."""
    frame = pl.read_csv(path, columns=["ts_event", "publisher_id"])
    ts = frame["ts_event"].str.to_datetime(time_zone="UTC").dt.epoch("ns").to_numpy()
    rows = int((frame["publisher_id"] == venue).sum())
    return rows / ((ts.max() - ts.min()) / 1e9)


def test_twice_the_rate_fails_the_rates_by_their_ratio(markets: dict[str, Path]) -> None:
    result = _compare(markets["base"], markets["busy"])
    entries = _entries(result)
    for venue in (2, 9):
        entry = entries[(str(venue), "messages_per_s")]
        expected = _rate(markets["busy"], venue) / _rate(markets["base"], venue)
        assert entry["ratio"] == pytest.approx(expected, rel=1e-5)
        assert 1.6 < expected < 2.4 and entry["result"] == FAIL
        assert entries[(str(venue), "trades_per_s")]["ratio"] > 1.1
        assert entries[(str(venue), "trades_per_s")]["result"] == FAIL
    assert not result.passed
    assert "messages_per_s (2)" in result.report["compare"]["failed"]
    table = result.table()
    assert any(line.startswith("messages_per_s") and line.endswith("FAIL")
               for line in table.splitlines())  # fmt: skip


def test_venues_are_matched_by_publisher_id_and_the_rest_listed(
    markets: dict[str, Path],
) -> None:
    result = _compare(markets["three"], markets["base"])
    compared = result.report["compare"]
    assert set(compared["venues"]) == {"2", "9"}
    assert compared["unmatched"] == {"real_only": ["43"], "generated_only": []}
    # overall is each whole file's: the real one counts its third venue's rows
    assert compared["overall"]["messages_per_s"]["real"] == pytest.approx(
        result.report["real"]["overall"]["messages_per_s"]
    )
    assert result.report["real"]["venues"].keys() == {"2", "9", "43"}
    reverse = _compare(markets["base"], markets["three"]).report["compare"]["unmatched"]
    assert reverse == {"real_only": [], "generated_only": ["43"]}


def test_the_tolerances_pass_and_fail_at_their_bounds() -> None:
    spread = Tolerance(relative=0.20, absolute=1.0)
    assert spread.passes(2.0, 3.0)  # one tick, though 50 %
    assert spread.passes(10.0, 12.0) and not spread.passes(10.0, 12.5)
    assert not spread.passes(2.0, 3.5)
    markout = Tolerance(factor=2.0)
    assert markout.passes(1.0, 2.0) and markout.passes(-1.0, -0.5)
    assert not markout.passes(1.0, -1.0) and not markout.passes(1.0, 2.5)
    assert markout.passes(0.0, 0.0) and not markout.passes(0.0, 0.1)
    assert Tolerance(absolute=0.05).passes(0.30, 0.35) and not Tolerance(
        absolute=0.05).passes(0.30, 0.36)  # fmt: skip
    assert spread.band(2.0) == (0.5, 1.5) and spread.band(10.0) == pytest.approx((0.8, 1.2))


def test_the_command_exits_1_on_a_failure_and_writes_its_outputs(
    markets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot, report = tmp_path / "c.png", tmp_path / "c.json"
    args = ["stats", "--compare", str(markets["base"]), str(markets["busy"]), "--plot",
            str(plot), "--json-out", str(report), "--fill-every", "2"]  # fmt: skip
    outcome = run_main(args, capsys)
    assert outcome.returncode == 1, outcome.stderr
    printed = json.loads(outcome.stdout)
    assert printed == json.loads(report.read_text()) and not printed["compare"]["passed"]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert any(line.startswith("messages_per_s") and line.rstrip().endswith("FAIL")
               for line in outcome.stderr.splitlines())  # fmt: skip
    same = run_main(["stats", "--compare", str(markets["base"]), str(markets["base"]),
                     "--no-plot", "-q"], capsys)  # fmt: skip
    assert same.returncode == 0 and json.loads(same.stdout)["compare"]["passed"]
    assert "messages_per_s" not in same.stderr  # --quiet: no table


@pytest.mark.parametrize(
    ("files", "flags", "message"),
    [
        (["base"], ["--compare"], "--compare takes two files, REAL and GENERATED; got 1"),
        (["base", "busy", "three"], ["--compare"], "--compare takes two files"),
        (["base", "busy"], [], "sor stats takes one file (2 given)"),
        (["base", "busy"], ["--compare", "--plot", "INPUT"], "is the input file"),
        (["base", "busy"], ["--compare", "--json-out", "INPUT", "--no-plot"],
         "is the input file"),
        (["base"], ["--json-out", "INPUT", "--no-plot"], "is the input file"),
    ],
)  # fmt: skip
def test_a_wrong_number_of_files_or_an_output_over_an_input_is_a_one_line_error(
    markets: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    files: list[str],
    flags: list[str],
    message: str,
) -> None:
    paths = [str(markets[name]) for name in files]
    flags = [paths[-1] if flag == "INPUT" else flag for flag in flags]
    outcome = run_main(["stats", *paths, *flags], capsys)
    assert outcome.returncode == 2 and outcome.stdout == ""
    assert outcome.stderr.count("\n") == 1 and message in outcome.stderr, outcome.stderr


def test_the_compare_figure_fits_with_failures_and_unmatched_venues(
    markets: dict[str, Path],
) -> None:
    figure = compare_figure(_compare(markets["three"], markets["busy"]).report["compare"])
    assert texts_outside(figure) == []


def test_the_shared_amzn_day_against_itself_runs_the_fifo_fill_study(tmp_path: Path) -> None:
    message = amzn_day(tmp_path)
    window = StatsSettings(start_ns=1_340_287_200_000_000_000,  # 2012-06-21T14:00:00Z
                           end_ns=1_340_287_500_000_000_000)  # fmt: skip  # five minutes
    result = run(message, message, CompareSettings(window, fill_every_s=5.0))
    compared = result.report["compare"]
    real, generated = compared["real"]["fill_study"], compared["generated"]["fill_study"]
    assert real["queue_model"] == "fifo" and real["venue_queue_models"] == {"2": "fifo"}
    assert generated["queue_model"] == "conservative"
    entries = _entries(result)
    for (venue, name), entry in entries.items():
        if name.startswith("p_any_fill"):
            # the same orders under the exact queue and the default model: both measured
            assert entry["real"] is not None and entry["generated"] is not None, name
            assert np.isclose(entry["real"], entry["generated"], atol=0.2), (name, entry)
        else:
            assert entry["result"] == PASS and entry["difference"] == 0.0, (venue, name)
    assert compared["real"]["start"].startswith("2012-06-21T14:00")


def test_sor_compare_reports_what_the_command_prints(
    markets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sor

    outcome = run_main(["stats", "--compare", str(markets["base"]), str(markets["busy"]),
                        "--no-plot", "-q", "--lags", "3"], capsys)  # fmt: skip
    result = sor.compare(markets["base"], markets["busy"], lags=3,
                         json_out=tmp_path / "c.json")  # fmt: skip
    assert result.text() + "\n" == outcome.stdout == (tmp_path / "c.json").read_text()
    assert not result.passed and outcome.returncode == 1


@pytest.mark.parametrize("which", ["generated", "real"])
def test_a_missing_file_is_refused_before_the_other_is_measured(
    markets: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    """A missing GENERATED file was found only after REAL's facts and fill study (minutes
    for a real day), its warnings on stderr before the error."""
    missing = str(tmp_path / "missing.csv")
    files = (
        [str(markets["base"]), missing] if which == "generated" else [missing, str(markets["base"])]
    )
    outcome = run_main(["stats", "--compare", *files, "--no-plot", "-q"], capsys)
    assert outcome.returncode == 2 and outcome.stdout == ""
    assert outcome.stderr.splitlines() == [
        f"sor: error: {missing}: no such data file (sor generate --out FILE writes a market; "
        "the README's section 'Your own data' says where real ones come from)"
    ]


def test_two_files_without_trades_match_on_their_trades(
    markets: dict[str, Path], tmp_path: Path
) -> None:
    """0 trades a second against a real 0 failed the relative tolerance (the ratio has no
    value), so a file without trades compared with itself failed; the figure then called
    the passing facts not compared."""
    quiet = tmp_path / "no_trades.csv"
    rows = pl.read_csv(markets["base"], infer_schema_length=0)
    rows.filter(pl.col("action") != "T").write_csv(quiet)
    result = _compare(quiet, quiet)
    entry = _entries(result)[("overall", "trades_per_s")]
    assert (entry["real"], entry["generated"], entry["result"]) == (0.0, 0.0, PASS)
    assert result.passed
    assert not Tolerance(relative=0.1).passes(0.0, 0.01)  # a real 0 is met by 0 alone
    figure = result.figure()
    try:
        panel = next(ax for ax in figure.axes if ax.get_title().startswith("trades_per_s"))
        assert [t.get_text() for t in panel.texts] == ["pass\n(real 0)"] * 3
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
