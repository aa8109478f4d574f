"""`sor generate --like` and `--params` at their edges (docs/generate.md, "A market like a
real one"): a window of a few rows or over a day, a spread wider than a venue model may
draw, a wrong profile, a parameters file written under --rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_run import run_main
from sor.core.errors import ConfigError
from sor.data.generate import MAX_SPREAD_TICKS, FlowModel, VenueModel, generate_market
from sor.data.market_params import MarketParams, read_params
from sor.stylized.fit import MAX_INFORMED, fit_market

START, END = "2024-08-01T13:36:32Z", "2024-08-01T13:36:42Z"


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Ten seconds of a two-venue MBP-1 market, as the CSV's lines."""
    out = tmp_path_factory.mktemp("edges") / "market.csv"
    generate_market(out, seed=1, start=START, end=END, depth=1, venues=2, rate_per_venue=20.0)
    return out.read_text().splitlines(keepends=True)


def test_a_window_of_a_few_rows_fits_without_a_round_failing(
    lines: list[str], tmp_path: Path
) -> None:
    # two rows a few milliseconds apart: a round's simulation of that window has no row
    path = tmp_path / "short.csv"
    path.write_text("".join(lines[:3]))
    params = fit_market(path, rounds=2)
    assert params.venues


def test_a_spread_wider_than_a_model_draws_fits_at_the_widest(
    lines: list[str], tmp_path: Path
) -> None:
    # every ask 1,500 $ above the bid (a thin, high-priced stock): 150,000 ticks, past the
    # widest spread a venue model may draw; the fit keeps it at the widest its start price
    # allows (the bid half of it below the efficient price) and the market generates
    header = lines[0].rstrip("\n").split(",")
    bid, ask = header.index("bid_px_00"), header.index("ask_px_00")
    rows = []
    for line in lines[1:]:
        cells = line.rstrip("\n").split(",")
        cells[ask] = f"{float(cells[bid]) + 1500:.2f}"
        rows.append(",".join(cells) + "\n")
    path = tmp_path / "wide.csv"
    path.write_text(lines[0] + "".join(rows))
    params = fit_market(path, rounds=2)
    for venue in params.venues:
        assert max(venue.spread_ticks) == min(MAX_SPREAD_TICKS, params.start_bid_cents)
        venue.check()
    out = tmp_path / "like.csv"
    generate_market(out, seed=1, start=START, end=END, depth=1, venue_models=params.venues,
                    start_bid_cents=params.start_bid_cents)  # fmt: skip
    assert out.stat().st_size > 0


def test_a_profile_of_no_activity_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        "format = 1\n[market]\nprice_moves = 0.35\nstart_price = 100.0\n"
        "[activity]\nstart_s = 0.0\nbucket_s = 1800.0\nmultipliers = [1.0, 0.0]\n"
        "[[venues]]\npublisher_id = 2\n"
    )
    with pytest.raises(ConfigError, match=f"^--params: {path}: activity.multipliers"):
        read_params(path)


def test_a_window_over_a_day_fits_no_time_of_day_profile(lines: list[str], tmp_path: Path) -> None:
    # the same ten seconds again thirty hours later: a time-of-day profile of sixty half
    # hours would overlap itself the next day (its times out of order)
    header = lines[0].rstrip("\n").split(",")
    recv, event = header.index("ts_recv"), header.index("ts_event")
    later = []
    for line in lines[1:]:
        cells = line.rstrip("\n").split(",")
        for column in (recv, event):
            cells[column] = cells[column].replace("2024-08-01T13", "2024-08-02T19")
        later.append(",".join(cells) + "\n")
    path = tmp_path / "two-days.csv"
    path.write_text("".join(lines) + "".join(later))
    params = fit_market(path, rounds=1)
    assert params.activity is None


def test_a_profile_longer_than_a_day_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        "format = 1\n[market]\nprice_moves = 0.35\nstart_price = 100.0\n[activity]\n"
        f"start_s = 0.0\nbucket_s = 1800.0\nmultipliers = {[1.0] * 49}\n"
        "[[venues]]\npublisher_id = 2\n"
    )
    with pytest.raises(ConfigError, match=r"activity.*a day"):
        read_params(path)


def test_params_out_with_a_rate_given_makes_the_same_file_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # venues of unequal rates under --rate: the scaled rates are not round numbers
    market = tmp_path / "market.toml"
    market.write_text(
        "format = 1\n[market]\nprice_moves = 0.35\nstart_price = 100.0\n"
        "[[venues]]\npublisher_id = 2\nrate = 29.7\n[[venues]]\npublisher_id = 9\nrate = 51.3\n"
    )
    first, again, params = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "p.toml"
    window = ["--start", START, "--end", END, "--depth", "1", "--quiet"]
    assert run_main(["generate", "--params", str(market), "--rate", "37.3", "--out", str(first),
                     "--params-out", str(params), *window], capsys).returncode == 0  # fmt: skip
    assert run_main(["generate", "--params", str(params), "--out", str(again), *window],
                    capsys).returncode == 0  # fmt: skip
    assert first.read_bytes() == again.read_bytes()


def test_the_made_by_line_of_a_fit_names_the_flags_that_shape_it(
    lines: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real, out = tmp_path / "real.csv", tmp_path / "like.csv"
    real.write_text("".join(lines))
    done = run_main(["generate", "--like", str(real), "--skip-bad-rows", "--depth", "1",
                     "--out", str(out)], capsys)  # fmt: skip
    assert done.returncode == 0
    assert f"made by --like {real} --skip-bad-rows --seed" in done.stderr


def _round(flow: FlowModel, markout: float, volatility: float) -> MarketParams:
    """One round's update of a one-venue market whose facts are the targets but for the
    markout and the volatility."""
    from sor.stylized.fit import Targets, _rescaled

    params = MarketParams(venues=(VenueModel(publisher_id=2),), price_moves=1.0, flow=flow)
    targets = Targets(rate={2: 1.0}, trades={2: 0.1}, best_size={2: None}, turnover={2: None},
                      spread={2: None}, autocorrelation=0.5, autocorrelation_10=None,
                      markout_10_bps=2.0, bursts={}, volatility=8.0)  # fmt: skip
    facts = {"messages_per_s": 1.0, "trades_per_s": 0.1}
    measured = {
        "venues": {"2": facts},
        "overall": {"markout_bps": {"10": markout}, "volatility_bps": {"60": volatility},
                    "trade_sign_autocorrelation": {"1": 0.5}},
        "bursts": {},
    }  # fmt: skip
    return _rescaled(params, targets, measured)


def test_the_rounds_match_the_volatility_by_the_moves_and_the_markout_by_the_flow() -> None:
    # the moves' variance goes as their rate: twice the volatility, a quarter of the moves
    assert _round(FlowModel(impact=0.5), 2.0, 16.0).price_moves == 0.25
    assert _round(FlowModel(impact=0.5), 2.0, 5.0).price_moves == pytest.approx(1.6 * 1.6)
    # the markout short: the impact's share grows, the informed share stays while it is
    # under 1 (here it reaches 1, and the informed share grows in the same round)
    up = _round(FlowModel(informed=0.1, metaorder_share=0.5, impact=0.25), 1.6, 8.0).flow
    assert (up.impact, up.informed) == (0.3125, 0.1)
    reach = _round(FlowModel(informed=0.1, metaorder_share=0.5, impact=0.5), 1.0, 8.0).flow
    assert (reach.impact, reach.informed) == (1.0, 0.2)
    # with the impact's share at 1 the informed share grows, to at most MAX_INFORMED
    more = _round(FlowModel(informed=0.1, metaorder_share=0.5, impact=1.0), 1.6, 8.0).flow
    assert (more.impact, more.informed) == (1.0, 0.125)
    capped = _round(FlowModel(informed=0.3, metaorder_share=0.5, impact=1.0), 1.0, 8.0).flow
    assert capped.informed == MAX_INFORMED
    # and at most one less the metaorders' share, which comes first
    full = _round(FlowModel(informed=0.1, metaorder_share=0.8, impact=1.0), 1.0, 8.0).flow
    assert full.metaorder_share == 0.8 and full.informed == pytest.approx(0.2)
