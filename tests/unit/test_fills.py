"""The fill study (``sor fills``): orders, their statistics and markouts, the command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from typer.testing import CliRunner

from cli_run import run_main
from shared_data import amzn_day
from sor.ck.fills import Orders, StudyOptions, every, simulate, slots, study
from sor.ck.mirror import mirror_constant, reflect_events
from sor.ck.queue import CONSERVATIVE, attach_venues
from sor.ck.router import CKSettings
from sor.cli import app
from sor.data.events import EVENT_DTYPE, F_LAST
from sor.data.generate import generate_market
from sor.report.markouts import TopOfBook, markouts_bps

D = 1_000_000_000
S = 1_000_000_000  # one second in ns


def _events(*rows: tuple) -> np.ndarray:
    """Rows of (ts ns, action, side, price $, size, bid $, bid size, ask $, ask size) of
    venue 2, each ending its event (trade rows carry the book before the trade)."""
    out = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (ts, action, side, price, size, bid, bid_sz, ask, ask_sz) in enumerate(rows):
        out[i]["ts_event"], out[i]["publisher_id"] = ts, 2
        out[i]["action"], out[i]["side"], out[i]["flags"] = action.encode(), side.encode(), F_LAST
        out[i]["price"], out[i]["size"] = round(price * D), size
        out[i]["bid_px"][0], out[i]["bid_sz"][0] = round(bid * D), bid_sz
        out[i]["ask_px"][0], out[i]["ask_sz"][0] = round(ask * D), ask_sz
    return out


def _market() -> tuple[np.ndarray, np.ndarray]:
    # 100 ahead at 10.00, 100 join behind at 1.2 s; at 1.5 s a sell of 150 fills 50, 250
    # more join at 2 s and at 2.5 s a sell of 300 fills the rest; the mid falls from 10.005
    # to 9.995 at 12 s
    return attach_venues(_events(
        (0, "A", "B", 10.00, 100, 10.00, 100, 10.01, 500),
        (int(1.2 * S), "A", "B", 10.00, 100, 10.00, 200, 10.01, 500),
        (int(1.5 * S), "T", "A", 10.00, 150, 10.00, 200, 10.01, 500),
        (int(1.5 * S), "C", "A", 10.02, 1, 10.00, 50, 10.01, 500),
        (2 * S, "A", "B", 10.00, 250, 10.00, 300, 10.01, 500),
        (int(2.5 * S), "T", "A", 10.00, 300, 10.00, 300, 10.01, 500),
        (int(2.5 * S), "C", "A", 10.02, 1, 10.00, 0, 10.01, 500),
        (12 * S, "C", "B", 10.00, 300, 9.99, 300, 10.00, 500),
        (80 * S, "A", "B", 9.99, 1, 9.99, 301, 10.00, 500),
    ))  # fmt: skip


def test_orders_every_horizon_and_their_passes() -> None:
    orders = every(2, 0, 10 * S, 2 * S, 3 * S, 100)
    assert orders.place_ns.tolist() == [0, 0, 2 * S, 2 * S, 4 * S, 4 * S, 6 * S, 6 * S]
    assert (orders.cancel_ns - orders.place_ns == 3 * S).all()
    # an order of 3 s every 2 s overlaps the next: two passes per venue, alternating
    assert slots(orders).tolist() == [0, 0, 1, 1, 0, 0, 1, 1]


def test_each_order_is_simulated_alone() -> None:
    events, venues = _market()
    # two overlapping orders see the same queue: neither takes the other's fills
    orders = Orders(np.array([0, 0]), np.array([S, S]), np.array([3 * S, 3 * S]),
                    np.array([200, 200]))  # fmt: skip
    got = simulate(events, venues, orders, CKSettings(queue_model=CONSERVATIVE))
    assert got.filled.tolist() == [200, 200] and got.ahead.tolist() == [100, 100]
    assert got.fill_qty.tolist() == [50, 150, 50, 150]


def test_the_study_counts_fills_and_marks_them_out() -> None:
    events, venues = _market()
    # no latency: the order rests at once, as the worked times below assume
    options = StudyOptions(every_s=100, sizes=(200,), horizons_s=(1.0, 2.0), side="buy",
                           latency_ns=0)  # fmt: skip
    stats, rows = study(events, venues, options)
    stats = stats["200"]
    # one order at t=0 per horizon: after 1 s nothing, after 2 s 50 of 200 (at 1.5 s)
    assert stats["2"]["1"] == {
        "orders": 1, "p_any_fill": 0.0, "p_any_fill_95": None, "p_full_fill": 0.0,
        "p_full_fill_95": None, "mean_filled_fraction": 0.0,
        "median_time_to_first_fill_s": None, "markout_bps": {"1": None, "10": None, "60": None},
        "markout_se_bps": {"1": None, "10": None, "60": None},
        "markout_orders": {"1": 0, "10": 0, "60": 0},
        "at_nbbo": 1.0, "mean_nbbo_distance_bps": 0.0,  # the only venue: it is the NBBO
        "no_interval": "1 order (fill probabilities): no interval from fewer than 30",
    }  # fmt: skip
    two = stats["2"]["2"]
    assert (two["p_any_fill"], two["p_full_fill"], two["mean_filled_fraction"]) == (1, 0, 0.25)
    assert two["median_time_to_first_fill_s"] == 1.5
    # the mid fell by 1 cent from 10.005 within 60 s of the fill: a cost for a buyer
    assert two["markout_bps"] == {"1": 0.0, "10": 0.0, "60": round(0.01 / 10.005 * 1e4, 6)}
    assert [(r.horizon_s, r.venue, r.price_nanos, r.queue_ahead, r.filled) for r in rows] == [
        (1.0, 2, 10 * D, 100.0, 0), (2.0, 2, 10 * D, 100.0, 50)]  # fmt: skip
    assert rows[1].fill_ns == (int(1.5 * S),)


def test_a_sell_study_rests_at_the_ask_and_fills_on_buys() -> None:
    events, venues = attach_venues(_events(
        (0, "A", "A", 10.01, 100, 10.00, 100, 10.01, 100),
        (S // 2, "A", "A", 10.01, 50, 10.00, 100, 10.01, 150),  # 50 behind us
        (S, "T", "B", 10.01, 130, 10.00, 100, 10.01, 150),  # 100 ahead, then 30 to us
        (S, "C", "A", 10.01, 130, 10.00, 100, 10.01, 20),
        (2 * S, "C", "A", 10.01, 20, 10.00, 100, 10.02, 70),
    ))  # fmt: skip
    top = mirror_constant(events)
    flipped = reflect_events(events, top)
    assert flipped["bid_px"][0, 0] == top - 10_010_000_000 and flipped["side"][2] == b"A"
    options = StudyOptions(every_s=100, horizons_s=(2.0,), side="sell", latency_ns=0)
    stats, rows = study(events, venues, options)
    assert rows[0].price_nanos == 10_010_000_000 and rows[0].filled == 30
    assert stats["200"]["2"]["2"]["p_any_fill"] == 1.0
    assert rows[0].nbbo_bps == 0.0 and stats["200"]["2"]["2"]["at_nbbo"] == 1.0


def test_markouts_are_signed_so_that_a_cost_is_positive() -> None:
    # one venue: the mid is 10.00 at 0 and 9.99 at 10 s
    book = TopOfBook(np.array([0, 10 * S]), np.array([2, 2]),
                     np.array([999, 998]) * D // 100, np.array([1001, 1000]) * D // 100)  # fmt: skip
    buy = markouts_bps(np.array([0]), 1, book, 10)
    sell = markouts_bps(np.array([0]), -1, book, 10)
    assert buy[0] == pytest.approx(10.0) and sell[0] == pytest.approx(-10.0)
    assert np.isnan(markouts_bps(np.array([5 * S]), 1, book, 10)[0])  # past the data


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fills") / "m.csv"
    generate_market(path, venues=2, seed=4, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:32Z")  # fmt: skip
    return path


def test_sor_fills_prints_the_json_writes_orders_and_a_figure(market: Path, tmp_path: Path) -> None:
    orders, plot = tmp_path / "orders.csv", tmp_path / "fills.png"
    args = ["fills", "--data", str(market), "--every", "5", "--size", "200", "--horizon",
            "0.5,2,10", "--orders-out", str(orders), "--plot", str(plot), "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"venues", "run"}
    assert set(report["venues"]) == {"2", "9"}
    assert list(report["venues"]["2"]) == ["0.5", "2", "10"]
    cell = report["venues"]["9"]["2"]
    assert list(cell) == ["orders", "p_any_fill", "p_any_fill_95", "p_full_fill",
                          "p_full_fill_95", "mean_filled_fraction",
                          "median_time_to_first_fill_s", "markout_bps", "markout_se_bps",
                          "markout_orders", "at_nbbo", "mean_nbbo_distance_bps",
                          "no_interval"]  # fmt: skip
    # 12 orders a venue: too few for an interval, and the cell says so
    assert cell["p_any_fill_95"] is None and cell["markout_se_bps"]["10"] is None
    assert cell["no_interval"].startswith(f"{cell['orders']} orders (fill probabilities)")
    # two venues: one of them often bids below the other, so not always at the NBBO
    assert 0 <= cell["at_nbbo"] <= 1 and cell["mean_nbbo_distance_bps"] >= 0
    assert list(cell["markout_bps"]) == ["1", "10", "60"] and cell["orders"] > 5
    with orders.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == report["run"]["orders_placed"]
    filled = [r for r in rows if int(r["filled"]) > 0]
    assert filled and all(
        len(r["fill_times"].split(";")) == len(r["fill_sizes"].split(";"))
        and sum(map(int, r["fill_sizes"].split(";"))) == int(r["filled"])
        for r in filled
    )
    assert plot.read_bytes()[:4] == b"\x89PNG"
    again = CliRunner().invoke(app, args)
    assert again.stdout == result.stdout  # deterministic


def test_sor_fills_crossing_fill_whole_fills_the_remainder_and_says_so(
    market: Path, tmp_path: Path
) -> None:
    def run(*extra: str) -> tuple[dict, list[dict[str, str]]]:
        orders = tmp_path / f"orders{len(extra)}.csv"
        args = ["fills", "--data", str(market), "--every", "1", "--horizon", "2,10",
                "--orders-out", str(orders), "--no-plot", "--quiet", *extra]  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        with orders.open() as handle:
            return json.loads(result.stdout), list(csv.DictReader(handle))

    (ours, our_rows), (whole, whole_rows) = run(), run("--crossing-fill", "whole")
    assert "crossing_fill" not in ours["run"]  # the default is not recorded
    assert whole["run"]["crossing_fill"] == "whole"
    assert [r["placed"] for r in our_rows] == [r["placed"] for r in whole_rows]
    # the whole remainder is at least what the displayed asks gave, and on this market some
    # orders fill otherwise (sooner: what the asks did not show, later trades gave)
    pairs = list(zip(our_rows, whole_rows, strict=True))
    assert all(int(b["filled"]) >= int(a["filled"]) for a, b in pairs)
    assert any(a["fill_sizes"] != b["fill_sizes"] for a, b in pairs)


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [("--every", "0", "--every: must be >= 1e-09, got 0"), ("--side", "short", "--side:"),
     ("--horizon", "1,x", "--horizon: expected comma-separated numbers"),
     ("--queue-model", "lifo", "--queue-model:"), ("--latency-us", "-1", "--latency-us:"),
     ("--fallback-queue-model", "fifo", "--fallback-queue-model:"),
     ("--trade-fill", "all", "--trade-fill: must be 'displayed' or 'whole'"),
     ("--crossing-fill", "all", "--crossing-fill: must be 'displayed' or 'whole'")],
)  # fmt: skip
def test_sor_fills_refuses_bad_flags_in_one_line(
    market: Path, flag: str, value: str, message: str
) -> None:
    result = CliRunner().invoke(app, ["fills", "--data", str(market), flag, value, "--no-plot"])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_sor_fills_fifo_on_a_file_without_order_ids_is_one_line(market: Path) -> None:
    args = ["fills", "--data", str(market), "--queue-model", "fifo", "--no-plot", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "sor: error: --queue-model fifo needs order-level data (Databento MBO with order ids, "
        "or LOBSTER): no venue of this input has it; use conservative or probabilistic"
    ]


def test_sor_fills_takes_several_sizes_and_refuses_a_repeated_key(
    market: Path, tmp_path: Path
) -> None:
    args = ["fills", "--data", str(market), "--every", "10", "--horizon", "2,10", "--no-plot",
            "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--size", "100,500"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report["sizes"]) == ["100", "500"] and report["run"]["sizes"] == [100, 500]
    assert list(report["sizes"]["500"]["venues"]["2"]) == ["2", "10"]
    for flag, value in (("--size", "100,100"), ("--horizon", "2,2.0000001")):
        bad = CliRunner().invoke(app, ["fills", "--data", str(market), flag, value, "--no-plot"])
        assert bad.exit_code == 2 and "given twice" in bad.output, bad.output


def test_sor_fills_compare_needs_order_ids(market: Path) -> None:
    result = CliRunner().invoke(app, ["fills", "--data", str(market), "--compare", "--no-plot",
                                      "--quiet"])  # fmt: skip
    assert result.exit_code == 2
    assert "--compare holds the queue models to the exact queue" in result.output


def _queue_day(tmp_path: Path) -> Path:
    """Three seconds of one MBO venue (39, with order ids) whose bid orders join, leave and
    trade, beside a venue without order ids (41)."""
    from orderlevel_helpers import write_mbo_csv

    t0 = 1_712_151_000_000_000_000
    ms = 1_000_000
    rows = [
        (t0, "A", "B", 10.00, 300, 1),
        (t0, "A", "A", 10.05, 300, 2),
        (t0, "A", "B", 10.01, 200, 4348, 64, 41),
        (t0, "A", "A", 10.04, 200, 4348, 192, 41),
    ]
    for k in range(1, 60):  # orders join and leave the bid; some trade
        t = t0 + k * 50 * ms
        rows.append((t, "A", "B", 10.00, 100, 100 + k))
        if k % 3 == 0:
            rows += [
                (t + ms, "T", "A", 10.00, 100, 0),
                (t + ms, "F", "B", 10.00, 100, 100 + k - 1),
                (t + ms, "C", "B", 10.00, 100, 100 + k - 1),
            ]
        elif k % 3 == 1:
            rows.append((t + ms, "C", "B", 10.00, 100, 100 + k))
    return write_mbo_csv(tmp_path / "day.mbo.csv", *sorted(rows, key=lambda r: r[0]))


def test_sor_fills_compare_runs_the_same_orders_through_fifo_and_each_model(
    tmp_path: Path,
) -> None:
    data = _queue_day(tmp_path)
    orders, plot = tmp_path / "orders.csv", tmp_path / "compare.png"
    result = CliRunner().invoke(app, [
        "fills", "--data", str(data), "--compare", "--every", "0.2", "--size", "100,300",
        "--horizon", "0.5,1", "--orders-out", str(orders), "--plot", str(plot)])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["run"]["models"] == ["fifo", "conservative", "probabilistic"]
    assert report["run"]["venues_without_order_ids"] == ["41"]
    assert list(report["compare"]) == ["39"]  # only the venue with order ids is compared
    cell = report["compare"]["39"]["100"]["0.5"]
    assert cell["orders"] > 5 and set(cell) >= {
        "fifo",
        "conservative",
        "probabilistic",
        "at_nbbo",
        "mean_nbbo_distance_bps",
    }
    assert 0 <= cell["conservative"]["identical_quantity"] <= 1
    assert "identical_quantity" not in cell["fifo"]
    assert "conservative frac/full/same" in result.stderr  # the summary table
    # about 15 orders a cell: no paired interval, and the report and the summary say why
    model = cell["conservative"]
    assert model["p_any_fill_diff_95"] is None and model["mean_filled_fraction_diff_95"] is None
    why = f"{cell['orders']} orders: no paired interval from fewer than 30"
    assert model["no_interval"] == why and why in result.stderr
    with orders.open() as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == report["run"]["orders_placed"] and written[0]["size"] in {"100", "300"}
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_sor_fills_compare_gives_each_model_a_paired_interval_of_its_difference_from_fifo(
    tmp_path: Path,
) -> None:
    from matplotlib.container import ErrorbarContainer

    from figure_bounds import texts_outside
    from sor.report.fills_figure import compare_figure

    # an order every 50 ms for 3 s: about 60 orders, enough for an interval
    result = CliRunner().invoke(app, [
        "fills", "--data", str(_queue_day(tmp_path)), "--compare", "--every", "0.05",
        "--size", "100", "--horizon", "1", "--no-plot"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    cell = report["compare"]["39"]["100"]["1"]
    assert cell["orders"] >= 30
    assert "Newcombe" in report["run"]["uncertainty"]["p_any_fill_diff_95"]
    for name in ("conservative", "probabilistic"):
        model, fifo = cell[name], cell["fifo"]
        for key in ("p_any_fill", "p_full_fill", "mean_filled_fraction"):
            diff = model[f"{key}_diff"]
            assert diff == pytest.approx(model[key] - fifo[key], abs=2e-6)
        for key in ("p_any_fill", "p_full_fill"):  # Newcombe's: never a point
            low, high = model[f"{key}_diff_95"]
            assert -1 <= low < model[f"{key}_diff"] + 1e-9 and high > low
            assert model[f"{key}_diff"] <= high + 1e-9
        fraction = model["mean_filled_fraction_diff_95"]
        if fraction is None:  # every order filled alike: no spread, said so
            assert "no spread" in model["no_interval"]
        else:
            assert fraction[0] <= model["mean_filled_fraction_diff"] <= fraction[1]
    shown = f"{cell['conservative']['p_any_fill_diff']:+.4f} "
    assert "paired 95 % interval" in result.stderr and shown in result.stderr
    # the figure: each model's bars span its paired interval, carried to its own value
    figure = compare_figure(report)
    assert texts_outside(figure) == []
    left = figure.axes[0]
    bars = [c for c in left.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 3 and not bars[0].has_yerr  # FIFO first, without a bar
    for container, name in zip(bars[1:], ("conservative", "probabilistic"), strict=True):
        model = cell[name]
        segments = container.lines[2][0].get_segments()
        ends = model["mean_filled_fraction_diff_95"]
        if ends is None:
            assert all(len(s) == 0 or np.isnan(s).all() for s in segments)
            continue
        (_, low), (_, high) = segments[0]
        value, diff = model["mean_filled_fraction"], model["mean_filled_fraction_diff"]
        assert low == pytest.approx(value - (diff - ends[0]), abs=1e-12)
        assert high == pytest.approx(value + (ends[1] - diff), abs=1e-12)
    plt.close(figure)


def test_the_default_queue_model_fills_as_fifo_does_on_the_shared_amzn_day(
    tmp_path: Path,
) -> None:
    message = amzn_day(tmp_path)
    result = CliRunner().invoke(app, [
        "fills", "--data", str(message), "--compare", "--every", "3", "--size",
        "100,1000,5000", "--horizon", "2,10,60", "--no-plot", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    cells = json.loads(result.stdout)["compare"]["2"]
    agreement = [cells[size][h]["conservative"]["agrees"] for size in cells for h in cells[size]]
    assert len(agreement) == 9 and all(agreement), cells


def test_a_venue_that_never_shows_a_book_is_studied_with_no_order_placed(
    tmp_path: Path,
) -> None:
    from orderlevel_helpers import write_mbo_csv

    t0 = 1_712_151_000_000_000_000
    ms = 1_000_000
    rows = [(t0, "A", "B", 10.00, 300, 1), (t0, "A", "A", 10.05, 300, 2)]
    for k in range(1, 40):  # venue 39 trades at its bid; venue 40 only prints trades
        rows += [(t0 + k * 50 * ms, "A", "B", 10.00, 100, 100 + k),
                 (t0 + k * 50 * ms + ms, "T", "N", 10.02, 100, 0, 128, 40)]  # fmt: skip
    data = write_mbo_csv(tmp_path / "day.mbo.csv", *rows)
    for compare in ([], ["--compare"]):
        result = CliRunner().invoke(app, [
            "fills", "--data", str(data), "--every", "0.2", "--horizon", "0.5", "--no-plot",
            "--quiet", *compare])  # fmt: skip
        assert result.exit_code == 0, result.output
    venues = json.loads(CliRunner().invoke(app, [
        "fills", "--data", str(data), "--every", "0.2", "--horizon", "0.5", "--no-plot",
        "--quiet"]).stdout)["venues"]  # fmt: skip
    assert venues["39"]["0.5"]["orders"] > 0
    assert venues["40"]["0.5"]["orders"] == 0


def test_a_bad_record_stops_sor_fills_in_one_line_naming_the_flag_that_skips_it(
    tmp_path: Path,
) -> None:
    from orderlevel_helpers import write_mbo_csv

    t0 = 1_712_151_000_000_000_000
    ms = 1_000_000
    rows = [(t0, "A", "B", 10.00, 300, 1), (t0, "A", "A", 10.05, 300, 2),
            (t0 + ms, "C", "B", 10.00, 100, 77)]  # fmt: skip  # an order never added
    rows += [(t0 + k * 50 * ms, "A", "B", 10.00, 100, 100 + k) for k in range(1, 40)]
    data = write_mbo_csv(tmp_path / "day.mbo.csv", *rows)
    base = ["fills", "--data", str(data), "--every", "0.2", "--horizon", "0.5", "--no-plot",
            "--quiet"]  # fmt: skip
    refused = CliRunner().invoke(app, base)
    assert refused.exit_code == 2
    assert len(refused.output.strip().splitlines()) == 1 and "--skip-bad-rows" in refused.output
    skipped = CliRunner().invoke(app, [*base, "--skip-bad-rows"])
    assert skipped.exit_code == 0, skipped.output
    assert json.loads(skipped.stdout)["venues"]["39"]["0.5"]["orders"] > 0


def test_sor_fills_gives_each_probability_an_interval_and_each_markout_an_error(
    market: Path,
) -> None:
    args = ["fills", "--data", str(market), "--every", "0.5", "--size", "200", "--horizon",
            "2", "--no-plot", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "Wilson" in report["run"]["uncertainty"]["p_any_fill_95"]
    # the defaults of sor backtest --model ck
    assert (report["run"]["queue_model"], report["run"]["latency_us"]) == ("conservative", 100)
    for cells in report["venues"].values():
        cell = cells["2"]
        assert cell["orders"] >= 30
        for key in ("p_any_fill", "p_full_fill"):
            low, high = cell[f"{key}_95"]
            assert low <= cell[key] <= high and high - low < 0.5
        filled = cell["markout_orders"]["1"]
        assert 30 <= filled <= round(cell["p_any_fill"] * cell["orders"])
        assert cell["markout_se_bps"]["1"] > 0


def test_sor_fills_writes_its_json_where_asked_and_says_so(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, plot = tmp_path / "fills.json", tmp_path / "fills.png"
    outcome = run_main(["fills", "--data", str(market), "--every", "30", "--horizon", "2",
                        "--json-out", str(report), "--plot", str(plot)], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    assert report.read_text() == outcome.stdout
    lines = outcome.stderr.splitlines()
    assert f"sor: wrote {report}" in lines and f"sor: wrote {plot}" in lines
