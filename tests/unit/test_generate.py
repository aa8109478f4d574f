"""The synthetic market: Databento's exact layout, determinism, consistent sizes, rates."""

from __future__ import annotations

import csv
import hashlib
import re
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sor.core.errors import ConfigError
from sor.data.generate import (
    CHUNK_ROWS,
    MAX_CLUSTER_ROWS,
    PUBLISHERS,
    VENUE_ORDER,
    FlowModel,
    generate_market,
    mbp_columns,
)

START = "2024-08-01T13:36:32Z"
END = "2024-08-01T13:37:02Z"  # 30 seconds

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
PRICE = re.compile(r"^\d+\.\d{1,2}$")  # shortest decimal: 222.8, 222.81 (and 223.0)
INTEGER = re.compile(r"^\d+$")


def _field_pattern(name: str) -> re.Pattern[str]:
    if name.startswith("ts_") and name != "ts_in_delta":
        return TIMESTAMP
    if "_px_" in name or name == "price":
        return PRICE
    if name in ("action",):
        return re.compile(r"^[ACTFMR]$")
    if name == "side":
        return re.compile(r"^[ABN]$")
    if name == "symbol":
        return re.compile(r"^[A-Z]+$")
    return INTEGER


@pytest.fixture(scope="module")
def mbp10(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "mbp10.csv"
    generate_market(path, venues=6, seed=3, start=START, end=END, depth=10)
    return path


def test_header_is_the_real_files_header(mbp10: Path, real_sample: Path) -> None:
    real_header = real_sample.read_text().splitlines()[0]
    assert mbp10.read_text().splitlines()[0] == real_header
    assert ",".join(mbp_columns(10)) == real_header
    # MBP-1 is the same with level 00 only
    assert mbp_columns(1) == [c for c in real_header.split(",") if not re.search(r"_0[1-9]$", c)]


def test_every_field_is_formatted_like_the_real_file(mbp10: Path, real_sample: Path) -> None:
    with real_sample.open(newline="") as handle:
        for row in csv.DictReader(handle):  # the patterns describe the real file...
            for name, value in row.items():
                assert _field_pattern(name).match(value), (name, value)
    with mbp10.open(newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle)):  # ...and the generated one
            for name, value in row.items():
                assert _field_pattern(name).match(value), (i, name, value)
            if i > 3000:
                break


def test_mbp1_layout(tmp_path: Path) -> None:
    path = tmp_path / "mbp1.csv"
    summary = generate_market(path, venues=2, seed=1, start=START, end=END, depth=1)
    frame = pl.read_csv(path)
    assert frame.columns == mbp_columns(1)
    assert frame["rtype"].unique().to_list() == [1]
    assert sorted(frame["publisher_id"].unique().to_list()) == sorted(VENUE_ORDER[:2])
    assert summary.rows == frame.height


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    paths = [tmp_path / f"{name}.csv" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (5, 5, 6), strict=True):
        generate_market(path, venues=3, seed=seed, start=START, end=END, depth=10)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_book_is_consistent_row_to_row(mbp10: Path) -> None:
    # Databento's convention: a trade row carries the book before the trade, and the
    # venue's next row shows its effect; an add or cancellation row the book after it
    frame = pl.read_csv(mbp10)
    assert (frame["bid_px_00"] < frame["ask_px_00"]).all()
    assert frame["rtype"].unique().to_list() == [10]
    assert set(frame["publisher_id"].unique().to_list()) == set(PUBLISHERS)
    checked = 0
    for _, venue in frame.group_by("publisher_id"):
        assert (venue["sequence"].diff().drop_nulls() == 1).all()
        rows = venue.with_columns(
            next_action=pl.col("action").shift(-1),
            next_side=pl.col("side").shift(-1),
            next_depth=pl.col("depth").shift(-1),
            next_size=pl.col("size").shift(-1),
            next_px=pl.col("bid_px_00").shift(-1),
            next_sz=pl.col("bid_sz_00").shift(-1),
            prev_px=pl.col("bid_px_00").shift(1),
            prev_sz=pl.col("bid_sz_00").shift(1),
            prev_action=pl.col("action").shift(1),
        )
        sells = rows.filter((pl.col("action") == "T") & (pl.col("side") == "A"))
        # a sell trade is at the bid its row shows, and no larger than that level
        assert (sells["price"] == sells["bid_px_00"]).all()
        assert (sells["size"] <= sells["bid_sz_00"]).all()
        # after a non-trade row the trade row shows that row's book, unchanged
        after_book = sells.filter(pl.col("prev_action") != "T")
        assert (after_book["bid_sz_00"] == after_book["prev_sz"]).all()
        # the next row, when it leaves the bid level alone, shows it lowered by the trade
        untouched = sells.filter(
            (pl.col("next_px") == pl.col("bid_px_00"))
            & ~((pl.col("next_side") == "B") & (pl.col("next_depth") == 0))
            & ~(pl.col("next_action") == "T")
        )
        assert (untouched["bid_sz_00"] - untouched["size"] == untouched["next_sz"]).all()
        # a cancellation at the best bid lowers it by the cancelled quantity
        cancels = rows.filter(
            (pl.col("action") == "C")
            & (pl.col("side") == "B")
            & (pl.col("depth") == 0)
            & (pl.col("bid_px_00") == pl.col("prev_px"))
            & (pl.col("prev_action") != "T")
        )
        assert (cancels["prev_sz"] - cancels["size"] == cancels["bid_sz_00"]).all()
        checked += untouched.height + cancels.height
    assert checked > 100


def test_f_last_ends_every_event_and_never_on_a_trade(mbp10: Path) -> None:
    # as l1_day_head.csv: the trades carry flags 0, the row after them 130 (F_LAST + 2)
    frame = pl.read_csv(mbp10)
    assert set(frame["flags"].unique().to_list()) == {0, 130}
    assert (frame.filter(pl.col("action") == "T")["flags"] == 0).all()
    for _, venue in frame.group_by("publisher_id"):
        # every venue's last row ends an event; a row with F_LAST ends its ts_event's rows
        assert venue["flags"][-1] == 130
        ends = venue.with_columns(next_ts=pl.col("ts_event").shift(-1)).filter(pl.col("flags") == 0)
        assert (ends["next_ts"] == ends["ts_event"]).all()


def test_the_real_sample_follows_the_same_convention(real_sample: Path) -> None:
    frame = pl.read_csv(real_sample)
    trades = frame.filter(pl.col("action") == "T")
    # four trades at the bid: each row shows the level before it, the next the drop
    assert trades["bid_sz_00"].to_list() == [421, 231, 221, 121]
    assert (trades["bid_sz_00"] - trades["size"]).to_list()[:3] == [231, 221, 121]
    assert trades["flags"].to_list() == [0, 0, 0, 0] and frame["flags"][-1] == 130
    assert frame["bid_px_00"][-1] < trades["price"][-1]  # the level is gone on the next row


def test_message_rate_is_near_the_real_files(mbp10: Path) -> None:
    frame = pl.read_csv(mbp10)
    per_venue_per_second = frame.height / 6 / 30
    # the real file: about 60,000 rows over 9 minutes for one venue (about 111 per second)
    assert 111 / 2 < per_venue_per_second < 111 * 2
    # bursts: several rows of one venue share a ts_event
    assert frame.group_by(["publisher_id", "ts_event"]).len()["len"].max() > 1
    # rows are in ts_recv order, and ts_event steps back somewhere, as in real files
    recv = frame["ts_recv"].str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ")
    event = frame["ts_event"].str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ")
    assert (recv.diff().drop_nulls().dt.total_nanoseconds() >= 0).all()
    assert (event.diff().drop_nulls().dt.total_nanoseconds() < 0).any()


def test_price_moves_set_how_often_the_quotes_move(tmp_path: Path) -> None:
    calm, busy = tmp_path / "calm.csv", tmp_path / "busy.csv"
    common = {"venues": 3, "seed": 5, "start": START, "end": "2024-08-01T13:38:32Z"}
    generate_market(calm, rate_per_venue=10, price_moves=0.0, **common)
    generate_market(busy, rate_per_venue=10, price_moves=1.0, **common)
    # with a still efficient price the venues' quotes stay within a few cents of it (they
    # move only when a touch is used up); a moving one walks away over two minutes
    calm_px, busy_px = pl.read_csv(calm)["bid_px_00"], pl.read_csv(busy)["bid_px_00"]
    assert calm_px.max() - calm_px.min() < 0.1
    assert busy_px.max() - busy_px.min() > 2 * (calm_px.max() - calm_px.min())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth": 5}, "depth must be 1"),
        ({"venues": 0}, "venues must be between"),
        ({"venues": 7}, "venues must be between"),
        ({"end": "2024-08-01T13:00:00Z"}, "must come after"),
        ({"start": "soon"}, "invalid timestamp"),
        ({"rate_per_venue": 0}, "rate must be positive"),
        ({"price_moves": -1}, "price moves per second must be >= 0"),
    ],
)
def test_bad_arguments_are_config_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_market(tmp_path / "x.csv", **{"start": START, "end": END, **kwargs})


BEFORE_CHUNKS = {
    "six venues, MBP-10": (
        {"venues": 6, "seed": 3, "end": END, "depth": 10},
        "ac64e228529dbeaf5c3028aabf9058fcd39cd36c8cdc9eacc0ad7d6bbb996018",
    ),
    "no adverse selection, MBP-1": (
        {"venues": 3, "seed": 11, "end": "2024-08-01T13:39:02Z", "depth": 1,
         "flow": FlowModel.off()},
        "47c2365f5a2583085c59d292297c67be9029632a3d699e8609c3486b3729c0b8",
    ),
    "two periods, another symbol": (
        {"venues": 2, "seed": 5, "end": "2024-08-01T13:41:40Z", "depth": 10,
         "rate_per_venue": 20.0, "price_moves": 1.0, "symbol": "MSFT"},
        "0e3198a58a8e3dfb997f74353b83d0b4cc4b33722d67bf1ab612d198e5ccf102",
    ),
    "three periods, drift": (
        {"venues": 1, "seed": 0, "end": "2024-08-01T13:48:32Z", "depth": 1,
         "rate_per_venue": 5.0, "flow": FlowModel(drift=0.3, metaorder_seconds=0.5)},
        "8dc9451ee6059f50a82e5083b95c6164390f957c4fd198896ff933a40a00d05e",
    ),
}  # fmt: skip
"""Files the generator wrote before it wrote in chunks (commit afdd9af), by SHA-256."""


@pytest.mark.parametrize("chunk_rows", [64, CHUNK_ROWS])
@pytest.mark.parametrize(("kwargs", "digest"), BEFORE_CHUNKS.values(), ids=BEFORE_CHUNKS.keys())
def test_writing_in_chunks_keeps_the_files_of_before(
    tmp_path: Path, kwargs: dict, digest: str, chunk_rows: int
) -> None:
    path = tmp_path / "m.csv"
    generate_market(path, start=START, chunk_rows=chunk_rows, **kwargs)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


WINDOWS = {
    "five seconds": ("2024-08-01T13:36:37Z", 111.0),
    "across a period's end": ("2024-08-01T13:41:34Z", 3.0),
    "no row": ("2024-08-01T13:36:32.000001Z", 0.01),
}


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    venues=st.integers(1, 4),
    depth=st.sampled_from([1, 10]),
    window=st.sampled_from(list(WINDOWS.values())),
    flow=st.sampled_from([FlowModel(), FlowModel.off(), FlowModel(0.4, 0.5, 0.3, 0.9, -0.2)]),
    chunk_rows=st.integers(MAX_CLUSTER_ROWS, 300),
)
def test_the_chunk_size_never_changes_a_byte(
    seed: int, venues: int, depth: int, window: tuple[str, float], flow: FlowModel,
    chunk_rows: int,
) -> None:  # fmt: skip
    end, rate = window
    common = {"venues": venues, "seed": seed, "start": START, "end": end, "depth": depth,
              "rate_per_venue": rate, "flow": flow}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        whole, chunked = Path(folder) / "whole.csv", Path(folder) / "chunked.csv"
        # room for a whole period of every venue: one chunk each, as before chunks
        one = generate_market(whole, chunk_rows=10**6, **common)
        many = generate_market(chunked, chunk_rows=chunk_rows, **common)
        assert chunked.read_bytes() == whole.read_bytes()
        assert many.rows == one.rows == len(whole.read_bytes().splitlines()) - 1


@pytest.mark.parametrize("minutes", [1, 4])
def test_a_written_batch_is_bounded_by_the_chunk_not_the_file(tmp_path: Path, minutes: int) -> None:
    batches: list[int] = []
    summary = generate_market(
        tmp_path / "m.csv", venues=3, seed=2, start=START, end=f"2024-08-01T13:{36 + minutes}:32Z",
        depth=1, chunk_rows=64, on_progress=batches.append,
    )  # fmt: skip
    assert sum(batches) == summary.rows > 100 * 64
    # the rows held at once are a venue's chunk and what waits for the other venues
    assert max(batches) <= 3 * 2 * 64


def test_a_chunk_smaller_than_a_cluster_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a chunk holds at least 9 rows"):
        generate_market(tmp_path / "x.csv", start=START, end=END, chunk_rows=8)
    assert not (tmp_path / "x.csv").exists()


def test_a_venue_of_sparse_levels_and_improving_adds_shows_both(tmp_path: Path) -> None:
    from sor.data.events import read_events
    from sor.data.generate import VenueModel

    out = tmp_path / "sparse.csv"
    model = VenueModel(publisher_id=2, rate=200.0, spread_ticks=(8.0, 12.0), level_ticks=3,
                       improve=0.3, follow=0.0)  # fmt: skip
    generate_market(out, seed=5, end="2024-08-01T13:37:32Z", venue_models=[model],
                    rate_per_venue=200.0)  # fmt: skip
    events = read_events(out)
    tick = 10_000_000
    for side, sign in (("bid", 1), ("ask", -1)):
        px = events[f"{side}_px"]
        both = (px[:, 0] > 0) & (px[:, 9] > 0)
        assert both.sum() > 1000
        assert (sign * np.diff(px[both], axis=1) == -3 * tick).all()  # every level 3 ticks on
    bid = np.concatenate(([0], events["bid_px"][:-1, 0]))
    ask = np.concatenate(([0], events["ask_px"][:-1, 0]))
    adds = events["action"] == b"A"
    wide = adds & (ask - bid > 3 * tick)
    inside = wide & (events["price"] > bid) & (events["price"] < ask)
    # a share 0.3 of the adds improve where the spread allows (quotes that never follow
    # the price: no re-centring add lands inside)
    assert 0.25 < inside.sum() / wide.sum() < 0.35


def test_bursts_gather_activity_and_trades_and_keep_the_mean(tmp_path: Path) -> None:
    from sor.data.events import read_events
    from sor.data.generate import Bursts, VenueModel
    from sor.stylized.fit import burstiness

    def market(bursts: Bursts | None) -> tuple[np.ndarray, dict[str, float | None]]:
        out = tmp_path / f"{bursts}.csv"
        generate_market(out, seed=4, end="2024-08-01T13:46:32Z", depth=1, rate_per_venue=30.0,
                        venue_models=[VenueModel(publisher_id=2, rate=30.0)],
                        bursts=bursts)  # fmt: skip
        events = read_events(out)
        ts = events["ts_event"]
        trades = np.unique(ts[events["action"] == b"T"])
        return ts, burstiness(ts, trades, int(ts.min()), int(ts.max()))

    calm_ts, calm = market(None)
    even_ts, _ = market(Bursts(share=0.1, ratio=10.0, seconds=2.0, trade_tilt=0.0))
    busy_ts, busy = market(Bursts(share=0.1, ratio=10.0, seconds=2.0, trade_tilt=1.0))
    # a Poisson-like flow: nearly no excess variance; bursts: the multiplier's variance,
    # share (1 - share) (busy - quiet)^2 = 0.1 x 0.9 x (5.26 - 0.53)^2 = 2.0 at short
    # windows, less over 10 s (spells of 2 s average out)
    assert calm["rows_1"] is not None and abs(calm["rows_1"]) < 0.1
    assert busy["rows_1"] is not None and busy["rows_10"] is not None
    assert 1.0 < busy["rows_1"] < 2.5 and busy["rows_10"] < busy["rows_1"]
    # trades lean further into the busy spells (trade_tilt 1): burstier than the rows
    assert busy["trades_10"] is not None and busy["trades_10"] > 1.5 * busy["rows_10"]
    # the mean is kept: as many rows over the window, within 3 % (with trades leaning in,
    # more: each cluster ending in a trade has a row more, which the fit's rates absorb)
    assert len(even_ts) == pytest.approx(len(calm_ts), rel=0.03)
    assert len(busy_ts) > len(even_ts)


def test_a_bursts_path_is_busy_its_share_of_the_time() -> None:
    from sor.data.generate import Bursts

    bursts = Bursts(share=0.2, ratio=4.0, seconds=1.0)
    ts, mult = bursts.path(np.random.default_rng(1), 0, 20_000 * 10**9)
    quiet, busy = bursts.levels()
    assert set(np.unique(mult)) == {quiet, busy}
    assert (mult[1:] != mult[:-1]).all()  # spells alternate
    held = np.diff(np.append(ts[ts < 20_000 * 10**9], 20_000 * 10**9))
    weights = held / held.sum()
    inside = mult[: len(held)]
    assert weights @ (inside == busy) == pytest.approx(0.2, abs=0.01)
    assert weights @ inside == pytest.approx(1.0, abs=0.02)  # mean one
    busy_spells = held[inside == busy] / 1e9
    assert busy_spells.mean() == pytest.approx(1.0, rel=0.05)
