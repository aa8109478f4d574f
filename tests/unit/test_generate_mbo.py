"""The generated market order by order (``sor generate --schema mbo``): its books are the
MBP file's of the same flags, its queues are FIFO, and the exact queue reads it."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cli_run import run_main
from sor.data.convert import convert
from sor.data.events import read_events
from sor.data.generate import VenueModel, generate_market
from sor.data.orderlevel import read_order_level

START, END = "2024-08-01T13:36:32Z", "2024-08-01T13:36:47Z"
KW = {"venues": 2, "seed": 5, "start": START, "end": END}
WIDE = {
    "venue_models": [
        VenueModel(publisher_id=2, spread_ticks=(1.0, 4.0, 30.0), follow=0.4, requote=0.2),
        VenueModel(
            publisher_id=41,
            rate=60.0,
            spread_ticks=(2.0, 9.0),
            size_scale=3.0,
            level_ticks=3,
            improve=0.3,
            hidden=0.3,
        ),
    ],
    "move_ticks": 3,
    "start_bid_cents": 1234,
}
"""A market of the kind ``--like`` fits: wide, lagging quotes and moves of several ticks."""


@pytest.fixture(scope="module", params=["default", "wide"])
def files(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp(f"genmbo-{request.param}")
    mbp, mbo = root / "gen.mbp-10.csv", root / "gen.mbo.csv"
    kw = {**KW, **(WIDE if request.param == "wide" else {})}
    generate_market(mbp, **kw)  # type: ignore[arg-type]
    generate_market(mbo, schema="mbo", **kw)  # type: ignore[arg-type]
    converted = root / "converted.csv"
    convert(mbo, "csv", converted)
    return {"mbp": mbp, "mbo": mbo, "converted": converted}


def _cents(frame: pl.DataFrame) -> pl.DataFrame:
    """Prices as integer cents: the generator writes ``223.0`` where convert writes ``223``."""
    prices = [c for c in frame.columns if c == "price" or "_px_" in c]
    return frame.with_columns(
        [(pl.col(c).cast(pl.Float64) * 100).round().cast(pl.Int64) for c in prices]
    )


def _row_of_each_group(converted: pl.DataFrame) -> pl.DataFrame:
    """The converted row standing for each generated row: records of one row share its
    venue and sequence; the row is its T record for a trade, else its last record, whose
    size becomes the group's cancelled shares at the row's price for a cancellation."""
    rows = converted.with_row_index("at").filter((pl.col("flags").cast(pl.Int64) & 32) == 0)
    key = ["publisher_id", "sequence"]
    trades = rows.filter(pl.col("action") == "T")
    last = rows.group_by(key, maintain_order=True).last().select(rows.columns)
    chosen = pl.concat([trades, last.join(trades.select(key), on=key, how="anti")])
    own = rows.join(chosen.select(*key, pl.col("action").alias("a"), pl.col("price").alias("p")),
                    on=key).filter((pl.col("action") == pl.col("a")) & (pl.col("price") == pl.col("p")))  # fmt: skip
    cancelled = own.group_by(key).agg(pl.col("size").cast(pl.Int64).sum().alias("cut"))
    return chosen.join(cancelled, on=key).with_columns(
        pl.when(pl.col("action") == "C").then(pl.col("cut").cast(pl.String))
        .otherwise(pl.col("size")).alias("size")
    ).sort("at")  # fmt: skip


def test_converting_the_mbo_gives_every_row_of_the_mbp_file(files: dict[str, Path]) -> None:
    mbp = pl.read_csv(files["mbp"], infer_schema=False)
    converted = pl.read_csv(files["converted"], infer_schema=False)
    chosen = _row_of_each_group(converted)
    key = ["publisher_id", "sequence"]
    assert len(mbp) > 1500 and len(chosen) == len(mbp)
    assert len(converted) > 2 * len(mbp)  # levels come and go as several orders
    # every column but the order counts: the rows' counts are drawn, the records' counted
    columns = [c for c in mbp.columns if "_ct_" not in c]
    a = _cents(mbp.select(columns)).sort(key)
    b = _cents(chosen.select(columns)).sort(key)
    assert a.equals(b)
    assert (mbp.select("sequence").to_series() == "0").sum() == 0  # 0 is the snapshot's alone


def test_the_readers_give_the_mbp_books_at_each_rows_records(files: dict[str, Path]) -> None:
    mbp = read_events(files["mbp"])
    data = read_order_level(files["mbo"], details=True)
    assert data.records is not None
    seq, publisher = data.records["sequence"], data.events["publisher_id"]
    keep = seq > 0  # the snapshot's records stand for no row
    events, seq, publisher = data.events[keep], seq[keep], publisher[keep]
    action = events["action"]
    # the row's record: its trade, else the last of its records
    last = {
        (p, s): i for i, (p, s) in enumerate(zip(publisher.tolist(), seq.tolist(), strict=True))
    }
    for i in np.flatnonzero(action == b"T"):
        last[(int(publisher[i]), int(seq[i]))] = int(i)
    frame = pl.read_csv(files["mbp"], columns=["ts_event", "publisher_id", "sequence"])
    order = np.argsort(frame["ts_event"].str.to_datetime().cast(pl.Int64).to_numpy(), kind="stable")
    mbp_keys = list(zip(frame["publisher_id"].to_numpy()[order].tolist(),
                        frame["sequence"].to_numpy()[order].tolist(), strict=True))  # fmt: skip
    picked = events[[last[k] for k in mbp_keys]]
    assert len(picked) == len(mbp)
    for name in ("ts_event", "publisher_id", "action", "side", "flags", "price", "bid_px",
                 "bid_sz", "ask_px", "ask_sz"):  # fmt: skip
        assert np.array_equal(picked[name], mbp[name]), name


def test_the_queues_are_fifo_fills_take_the_front(files: dict[str, Path]) -> None:
    """Replay the records with plain per-price queues: every add is a new id, every fill
    takes the front of its queue and is cut by the cancel that follows, every cancel cuts
    at most the order's shares, a trade's fills add up to it (none for a hidden trade inside
    the spread), and each side rests on the ten
    levels the rows show at the end of each cluster."""
    records = pl.read_csv(files["mbo"])
    queues: dict[tuple[int, str], dict[float, list[list[int]]]] = defaultdict(dict)
    seen: set[tuple[int, int]] = set()
    pending: list[tuple] = []
    trade_left = 0
    fills = partial_cancels = hidden = 0
    for venue, action, side, price, size, oid, flags in records.select(
        "publisher_id", "action", "side", "price", "size", "order_id", "flags"
    ).iter_rows():
        book = queues[(venue, side)]
        if action == "A":
            assert (venue, oid) not in seen
            seen.add((venue, oid))
            book.setdefault(price, []).append([oid, size])
        elif action == "T":
            assert trade_left == 0
            resting = queues[(venue, "B" if side == "A" else "A")]
            best = (max if side == "A" else min)(resting)
            hidden += price != best
            # a trade against hidden liquidity prints inside the spread and fills nothing
            trade_left = size if price == best else 0
        elif action == "F":
            front = book[price][0]
            assert front[0] == oid and size <= front[1]
            best = max(book) if side == "B" else min(book)
            assert price == best
            pending.append((venue, side, price, size, oid))
            trade_left -= size
            fills += 1
        elif action == "C":
            queue = book[price]
            place = next(i for i, o in enumerate(queue) if o[0] == oid)
            if pending:
                assert pending.pop() == (venue, side, price, size, oid)
            assert size <= queue[place][1]
            partial_cancels += size < queue[place][1]
            queue[place][1] -= size
            if queue[place][1] == 0:
                del queue[place]
            if not queue:
                del book[price]
        if flags & 128:  # a row's end: ten levels a side, as the rows show
            assert trade_left == 0 and not pending
            assert len(queues[(venue, "B")]) == len(queues[(venue, "A")]) == 10
    assert fills > 100 and partial_cancels > 100
    assert (hidden > 10) == ("wide" in files["mbo"].parent.name)  # the wide market's alone


def test_sor_fills_runs_the_exact_queue_on_a_generated_day(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_main(["fills", "--data", str(files["mbo"]), "--queue-model", "fifo",
                        "--every", "1", "--size", "100", "--horizon", "2", "--no-plot",
                        "--quiet"], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    report = json.loads(outcome.stdout)
    assert set(report["run"]["venue_queue_models"].values()) == {"fifo"}
    assert len(report["run"]["venue_queue_models"]) == 2


def test_mbo_as_dbn_and_by_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", "--schema", "mbo", "--venues", "1", "--start", START,
            "--end", "2024-08-01T13:36:37Z", "--quiet"]  # fmt: skip
    csv, dbn = tmp_path / "a.mbo.csv", tmp_path / "a.mbo.dbn.zst"
    for out in (csv, dbn):
        assert run_main([*args, "--out", str(out)], capsys).returncode == 0
    a, b = read_order_level(csv, details=True), read_order_level(dbn, details=True)
    assert len(a.events) > 500 and np.array_equal(a.events, b.events)
    assert a.records is not None and b.records is not None
    assert all(np.array_equal(a.records[k], b.records[k]) for k in a.records)
    outcome = run_main([*args, "--out", str(tmp_path / "days"), "--days", "2"], capsys)
    assert outcome.returncode == 0, outcome.stderr
    names = sorted(p.name for p in (tmp_path / "days").iterdir())
    assert names == ["aapl-20240801.mbo.csv", "aapl-20240802.mbo.csv"]
    bad = run_main([*args, "--out", str(tmp_path / "a.mbo.txt")], capsys)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and ".dbn.zst" in bad.stderr


def test_the_orders_do_not_depend_on_chunks_or_periods(tmp_path: Path) -> None:
    """A window across a five-minute period, written in chunks of the fewest rows, gives
    the bytes of one written in the usual chunks; the same seed, the same bytes."""
    kw = {"venues": 2, "seed": 3, "start": START, "end": "2024-08-01T13:41:40Z",
          "rate_per_venue": 2.0, "schema": "mbo"}  # fmt: skip
    paths = [tmp_path / f"{k}.mbo.csv" for k in range(3)]
    generate_market(paths[0], **kw)  # type: ignore[arg-type]
    generate_market(paths[1], chunk_rows=9, **kw)  # type: ignore[arg-type]
    generate_market(paths[2], **{**kw, "seed": 4})  # type: ignore[arg-type]
    assert paths[0].read_bytes() == paths[1].read_bytes() != paths[2].read_bytes()
    assert len(read_order_level(paths[0]).events) > 500  # every record applies
