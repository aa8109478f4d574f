"""`sor generate --like` and `--params` (docs/generate.md, "A market like a real one"): the
fit recovers a generated market's known parameters, the parameters file round-trips and
refuses a wrong one in one line, and the fitted market resembles the real files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_main
from shared_data import GOOGL, amzn_day, shared
from sor.core.errors import ConfigError
from sor.data.generate import IMPACT_DECAY, Bursts, FlowModel, VenueModel, generate_market
from sor.data.market_params import MarketParams, read_params
from sor.stylized.fit import fit_market
from sor.stylized.summary import file_stats

START, END = "2024-08-01T13:36:32Z", "2024-08-01T13:41:32Z"  # five minutes

KNOWN = (
    VenueModel(publisher_id=39, rate=40.0, spread_ticks=(6.0, 8.0, 10.0, 12.0, 14.0),
               trade_size_median=150.0, trade_size_sigma=0.5, cancel_level_mean=0.5),
    VenueModel(publisher_id=41, rate=20.0, spread_ticks=(1.0, 1.0, 2.0, 3.0),
               trade_size_median=40.0),
)  # fmt: skip
FLOW = FlowModel(
    informed=0.1, metaorder_share=0.6, metaorder_seconds=5.0, impact=0.2, impact_decay=IMPACT_DECAY
)  # the fit's impact: it decays


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five minutes of a two-venue market of known parameters."""
    out = tmp_path_factory.mktemp("fit") / "known.csv"
    generate_market(out, seed=3, start=START, end=END, depth=10, rate_per_venue=30.0,
                    price_moves=0.5, flow=FLOW, venue_models=KNOWN,
                    start_bid_cents=15_000)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def fitted(known: Path) -> MarketParams:
    return fit_market(known)


def test_the_fit_reads_what_the_file_shows_of_each_venue(fitted: MarketParams) -> None:
    venues = {venue.publisher_id: venue for venue in fitted.venues}
    assert sorted(venues) == [39, 41]
    wide, narrow = venues[39], venues[41]
    # the spread's median within a tick of the known one (the quotes also move with the price)
    assert abs(np.median(wide.spread_ticks) - 10.0) <= 1.5
    assert np.median(narrow.spread_ticks) <= 2.5
    # trade sizes: the median within a quarter (sizes below the levels' median of about 220:
    # a trade never takes more than its level holds, so larger ones would read smaller);
    # a median under one lot reads larger, as 60 % of sizes are whole lots of 100 or more
    assert wide.trade_size_median == pytest.approx(150.0, rel=0.25)
    assert 40.0 < narrow.trade_size_median < 100.0
    # cancellations at the best level: the known 86 % (mean 0.5) is told from the default 39 %
    assert wide.cancel_level_mean < 1.0 < narrow.cancel_level_mean
    assert fitted.start_price == pytest.approx(150.0, abs=0.5)
    assert fitted.activity is None  # five minutes: no time-of-day profile


def test_the_rounds_bring_rates_and_sizes_to_the_files(known: Path, fitted: MarketParams,
                                                       tmp_path: Path) -> None:  # fmt: skip
    again = tmp_path / "again.csv"
    generate_market(again, seed=11, start=START, end=END, depth=10,
                    rate_per_venue=fitted.mean_rate, price_moves=fitted.price_moves,
                    flow=fitted.flow, venue_models=fitted.venues,
                    start_bid_cents=fitted.start_bid_cents,
                    move_ticks=fitted.move_ticks)  # fmt: skip
    real, made = file_stats(known).report, file_stats(again).report
    for venue in ("39", "41"):
        a, b = real["venues"][venue], made["venues"][venue]
        assert b["messages_per_s"] == pytest.approx(a["messages_per_s"], rel=0.1)
        assert b["trades_per_s"] == pytest.approx(a["trades_per_s"], rel=0.2)
    # the metaorders' share: the known 0.6 within 0.15 (five minutes of trades)
    assert fitted.flow.metaorder_share == pytest.approx(0.6, abs=0.15)
    assert made["overall"]["trade_sign_autocorrelation"]["1"] == pytest.approx(
        real["overall"]["trade_sign_autocorrelation"]["1"], abs=0.1)  # fmt: skip


def test_the_parameters_file_round_trips(fitted: MarketParams, tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    fitted.write(path)
    back = read_params(path)
    assert back.venues == fitted.venues and back.flow == fitted.flow
    assert back.activity == fitted.activity and back.move_ticks == fitted.move_ticks
    assert (back.price_moves, back.start_price, back.start, back.end) == (
        fitted.price_moves, fitted.start_price, fitted.start, fitted.end)  # fmt: skip
    assert fitted.bursts is None  # a generated Poisson-like market: no bursts to fit
    bursty = dataclasses.replace(fitted, bursts=Bursts(share=0.2, ratio=3.5, seconds=0.8))
    bursty.write(path)
    assert read_params(path).bursts == bursty.bursts


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("format = 1", "format = 2"), "format"),
        (lambda t: t.replace("[market]", "[market]\nspeed = 3"), "market.speed"),
        (lambda t: t.replace("rate = ", "rate = -", 1), "venue 39: rate must be a positive"),
        (lambda t: t.replace("follow = ", "speed = 1\nfollow = ", 1), "venues.0.speed: not a"),
        (lambda t: t + "\n[[venues]\n", "is not TOML"),
        (lambda t: t.replace("metaorder_share = ", "metaorder_share = 0.99 #", 1),
         "informed \\+ metaorder share"),
    ],
)  # fmt: skip
def test_a_wrong_parameters_file_is_one_line_naming_the_key(
    fitted: MarketParams, tmp_path: Path, edit: object, message: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(edit(fitted.to_toml()))  # type: ignore[operator]
    with pytest.raises(ConfigError, match=message) as caught:
        read_params(path)
    assert "\n" not in str(caught.value)


def test_like_then_params_write_the_same_file_and_flags_win(
    known: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params, direct, again = tmp_path / "p.toml", tmp_path / "a.csv", tmp_path / "b.csv"
    assert run_main(["generate", "--like", str(known), "--params-out", str(params), "--out",
                     str(direct), "--quiet"], capsys).returncode == 0  # fmt: skip
    assert run_main(["generate", "--params", str(params), "--out", str(again), "--quiet"],
                    capsys).returncode == 0  # fmt: skip
    assert direct.read_bytes() == again.read_bytes()
    one = tmp_path / "one.csv"
    assert run_main(["generate", "--params", str(params), "--venues", "1", "--rate", "5",
                     "--out", str(one), "--quiet"], capsys).returncode == 0  # fmt: skip
    venues = file_stats(one).report["venues"]
    assert list(venues) == ["39"]
    assert venues["39"]["messages_per_s"] == pytest.approx(5.0, rel=0.15)
    refused = run_main(["generate", "--params", str(params), "--venues", "3", "--out",
                        str(tmp_path / "x.csv"), "--quiet"], capsys)  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith(f"the market of --params {params} has 2 venues")
    both = run_main(["generate", "--params", str(params), "--like", str(known), "--out",
                     str(tmp_path / "x.csv")], capsys)  # fmt: skip
    assert both.returncode == 2 and "give one of them" in both.stderr
    assert not (tmp_path / "x.csv").exists()


def test_the_default_market_writes_its_parameters_as_a_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = tmp_path / "default.toml"
    assert run_main(["generate", "--params-out", str(params), "--quiet"], capsys).returncode == 0
    market = read_params(params)
    assert [venue.publisher_id for venue in market.venues] == [2, 9, 43, 5, 8, 38]
    assert market.venues[0] == VenueModel(publisher_id=2)
    assert market.flow == FlowModel()


def test_a_fit_to_the_shared_googl_open_keeps_its_three_venues_apart() -> None:
    path = shared(GOOGL)
    from sor.core.timestamps import parse_timestamp

    params = fit_market(path, start_ns=parse_timestamp("2024-04-03T13:30:00Z"),
                        end_ns=parse_timestamp("2024-04-03T13:40:00Z"), rounds=2)  # fmt: skip
    venues = {venue.publisher_id: venue for venue in params.venues}
    assert sorted(venues) == [39, 40, 41]
    # NYSE National's quote is dollars wide, Chicago's tens of cents: the fit keeps them so
    assert np.median(venues[40].spread_ticks) > 5 * np.median(venues[39].spread_ticks)
    assert venues[41].rate > venues[39].rate > venues[40].rate
    assert 140 < params.start_price < 170  # GOOGL in April 2024


def test_a_fit_to_the_shared_amzn_day_prices_amzn(tmp_path: Path) -> None:
    message = amzn_day(tmp_path, levels=1)
    from sor.core.timestamps import parse_timestamp

    params = fit_market(message, start_ns=parse_timestamp("2012-06-21T14:00:00Z"),
                        end_ns=parse_timestamp("2012-06-21T14:10:00Z"), rounds=2)  # fmt: skip
    (venue,) = params.venues
    assert venue.publisher_id == 2
    assert 215 < params.start_price < 230
    assert 3 <= np.median(venue.spread_ticks) <= 30  # 2012 AMZN on Nasdaq: cents wide
    assert dataclasses.asdict(params.flow)["metaorder_share"] > 0.3  # signs persist


def test_days_like_a_fitted_market_keep_its_venues_and_vary(
    fitted: MarketParams, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params, days = tmp_path / "p.toml", tmp_path / "days"
    fitted.write(params)
    assert run_main(["generate", "--params", str(params), "--days", "2", "--out", str(days),
                     "--quiet"], capsys).returncode == 0  # fmt: skip
    files = sorted(days.iterdir())
    assert [f.name for f in files] == ["aapl-20240801.mbp-10.csv", "aapl-20240802.mbp-10.csv"]
    reports = [file_stats(f).report for f in files]
    assert all(list(r["venues"]) == ["39", "41"] for r in reports)
    # each day its own liquidity (docs/generate.md, --days): the rates differ
    assert reports[0]["overall"]["messages_per_s"] != reports[1]["overall"]["messages_per_s"]


@pytest.mark.parametrize("which", ["--out", "--params-out"])
def test_no_output_replaces_the_fitted_file_or_the_parameters(
    known: Path, fitted: MarketParams, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    which: str,
) -> None:  # fmt: skip
    copy = tmp_path / "real.csv"
    copy.write_bytes(known.read_bytes())
    other = "--params-out" if which == "--out" else "--out"
    refused = run_main(["generate", "--like", str(copy), which, str(copy), other,
                        str(tmp_path / "x"), "--quiet"], capsys)  # fmt: skip
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        == f"sor: error: {which}: {copy} is the input file {copy}; write elsewhere"
    )
    assert copy.read_bytes() == known.read_bytes()
    params = tmp_path / "p.toml"
    fitted.write(params)
    before = params.read_bytes()
    refused = run_main(["generate", "--params", str(params), which, str(params), other,
                        str(tmp_path / "y"), "--quiet"], capsys)  # fmt: skip
    assert refused.returncode == 2 and "is the input file" in refused.stderr
    assert params.read_bytes() == before
    same = run_main(["generate", "--params", str(params), "--out", str(tmp_path / "z"),
                     "--params-out", str(tmp_path / "z"), "--quiet"], capsys)  # fmt: skip
    assert same.returncode == 2 and "name the same file" in same.stderr


def test_the_fit_finds_bursts_where_they_are_and_matches_them(
    known: Path, fitted: MarketParams, tmp_path: Path
) -> None:
    from sor.data.events import read_events
    from sor.stylized.fit import _trade_times, burstiness

    def bursty(path: Path) -> dict[str, float | None]:
        events = read_events(path)
        ts = events["ts_event"]
        return burstiness(ts, _trade_times(events), int(ts.min()), int(ts.max()))

    assert fitted.bursts is None  # the market without bursts gets none
    source = tmp_path / "bursty.csv"
    generate_market(source, seed=9, start=START, end=END, depth=1, rate_per_venue=40.0,
                    venue_models=[VenueModel(publisher_id=2, rate=40.0)],
                    bursts=Bursts(share=0.1, ratio=8.0, seconds=1.0))  # fmt: skip
    refit = fit_market(source, rounds=6)
    assert refit.bursts is not None  # the bursty one gets bursts
    again = tmp_path / "again.csv"
    generate_market(again, seed=10, start=START, end=END, depth=1,
                    rate_per_venue=refit.mean_rate, venue_models=refit.venues,
                    price_moves=refit.price_moves, flow=refit.flow, bursts=refit.bursts,
                    start_bid_cents=refit.start_bid_cents,
                    move_ticks=refit.move_ticks)  # fmt: skip
    real, made = bursty(source), bursty(again)
    assert real["rows_10"] is not None and made["rows_10"] is not None
    # a multiplier's variance of 0.1 x 0.9 x (8 - 1)^2 / 1.7^2 = 1.5, less over 10 s: spells
    # of a second average out; the fit's market as bursty within 40 %
    assert real["rows_10"] > 0.2
    assert made["rows_10"] == pytest.approx(real["rows_10"], rel=0.4)


def test_a_venue_quoting_a_placeholder_far_side_fits_within_the_models_range(
    tmp_path: Path,
) -> None:
    """A venue whose ask sits at 2,000 $ over a 150 $ bid (as XCIS before the open in the
    shared GOOGL file) has spreads of 185,000 ticks: the fit wrote quantiles past the
    model's 100,000 and then refused its own model ("spread_ticks must be ... from 1 to
    100000"). They are held to the start price (15,000 ticks), past which the venue's bid,
    half the spread below the efficient price, would be below zero."""
    import polars as pl

    from sor.data.generate import MAX_SPREAD_TICKS

    real = tmp_path / "real.csv"
    generate_market(real, seed=3, start=START, end="2024-08-01T13:36:52Z", depth=1,
                    rate_per_venue=30.0, venue_models=KNOWN, start_bid_cents=15_000)  # fmt: skip
    rows = pl.read_csv(real, infer_schema_length=0)
    far = pl.when(pl.col("publisher_id") == "41").then(pl.lit("2000.00"))
    rows.with_columns(far.otherwise(pl.col("ask_px_00")).alias("ask_px_00")).write_csv(real)
    fitted = fit_market(real)
    venues = {venue.publisher_id: venue for venue in fitted.venues}
    cap = round(fitted.start_price * 100)
    assert 14_000 < cap < 16_000 < MAX_SPREAD_TICKS
    assert venues[41].spread_ticks == (cap,) * len(venues[41].spread_ticks)
    assert max(venues[39].spread_ticks) < 100
