"""Reading Databento CSV: layout, windowing, first-row-per-venue, ordering and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sor.core.errors import DataError
from sor.core.timestamps import format_timestamp, parse_timestamp
from sor.data.reader import build_snapshots, read_market

HEADER = (
    "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
    "ts_in_delta,sequence,bid_px_00,ask_px_00,bid_sz_00,ask_sz_00,bid_ct_00,ask_ct_00,symbol"
)


def _row(ts: str, pub: int, ask: str, size: str, bid: str = "9.98") -> str:
    return f"{ts},{ts},1,{pub},38,A,A,0,{ask},1,130,0,1,{bid},{ask},100,{size},1,1,AAPL"


def _write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "data.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_reads_the_real_sample(real_sample: Path) -> None:
    data = read_market(real_sample)
    assert data.rows_read == 5
    # Four rows share the first ts_event at venue 2: the first one is kept.
    assert len(data.snapshots) == 2
    first = data.snapshots[0]
    assert first["publisher_id"] == 2
    assert first["ask_px"] == 222_830_000_000
    assert first["ask_sz"] == 36
    assert first["bid_px"] == 222_810_000_000
    assert first["bid_sz"] == 421
    assert format_timestamp(int(first["ts_event"])) == "2024-08-01T13:36:32.491911683Z"
    assert data.snapshots[1]["ask_sz"] == 46


def test_timestamps_round_trip() -> None:
    text = "2024-08-01T13:36:32.491911683Z"
    assert format_timestamp(parse_timestamp(text)) == text
    assert parse_timestamp("2024-08-01T13:36:32Z") == parse_timestamp("2024-08-01T13:36:32.000Z")
    assert parse_timestamp("2024-08-01T15:36:32+02:00") == parse_timestamp("2024-08-01T13:36:32Z")
    with pytest.raises(ValueError, match="invalid timestamp"):
        parse_timestamp("yesterday")


def test_first_row_per_venue_and_stable_time_order() -> None:
    columns = {
        "ts_event": np.array([5, 3, 5, 3, 5]),
        "publisher_id": np.array([2, 2, 2, 9, 9]),
        "ask_px": np.array([1, 2, 3, 4, 5]),
        "ask_sz": np.array([10, 20, 30, 40, 50]),
        "bid_px": np.zeros(5, dtype=np.int64),
        "bid_sz": np.zeros(5, dtype=np.int64),
    }
    snapshots, in_window = build_snapshots(columns)
    assert in_window == 5
    # ts 3: rows 1 (venue 2) then 3 (venue 9); ts 5: row 0 (venue 2), row 4 (venue 9).
    assert snapshots["ask_px"].tolist() == [2, 4, 1, 5]
    windowed, in_window = build_snapshots(columns, start_ns=4, end_ns=5)
    assert in_window == 3
    assert windowed["ask_px"].tolist() == [1, 5]


def test_invalid_asks_mean_no_liquidity(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _row("2024-08-01T13:00:00.000000000Z", 2, "", "100"),
            _row("2024-08-01T13:00:00.000000001Z", 2, "-1", "100"),
            _row("2024-08-01T13:00:00.000000002Z", 2, "inf", "100"),
            _row("2024-08-01T13:00:00.000000003Z", 2, "10.5", "0"),
        ],
    )
    data = read_market(path)
    assert data.snapshots["ask_px"].tolist() == [0, 0, 0, 10_500_000_000]


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such data file"):
        read_market(tmp_path / "absent.csv")


def test_missing_column_is_named(tmp_path: Path) -> None:
    header = HEADER.replace("ask_sz_00", "ask_size")
    path = _write(tmp_path, [_row("2024-08-01T13:00:00Z", 2, "10", "100")], header=header)
    with pytest.raises(DataError, match=r"missing column.*ask_sz_00") as err:
        read_market(path)
    assert err.value.column == "ask_sz_00"


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (_row("2024-08-01T13:00:00Z", 2, "ten", "100"), "ask_px_00", "bad_price"),
        (_row("2024-08-01 13h", 2, "10", "100"), "ts_event", "bad_timestamp"),
        (_row("2024-08-01T13:00:00Z", 2, "10", "1.5"), "ask_sz_00", "bad_size"),
    ],
)
def test_unparseable_value_names_file_line_and_column(
    tmp_path: Path, row: str, column: str, reason: str
) -> None:
    good = _row("2024-08-01T13:00:00Z", 2, "10", "100")
    path = _write(tmp_path, [good, good, row, good])
    with pytest.raises(DataError) as err:
        read_market(path)
    assert err.value.line == 4
    assert err.value.column == column
    assert str(path) in str(err.value)
    assert "line 4" in str(err.value)
    data = read_market(path, skip_bad_rows=True)
    assert data.skipped == {reason: 1}
    assert data.rows_read == 4
    assert len(data.snapshots) == 1  # the three good rows share ts_event and venue


def test_not_a_csv_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(DataError):
        read_market(path)


def test_integer_nanosecond_timestamps_are_read_too(tmp_path: Path, tiny_csv: Path) -> None:
    # Databento's CSV without pretty_ts writes ts_event as integer nanoseconds
    lines = tiny_csv.read_text().splitlines()
    rows = []
    for line in lines[1:]:
        fields = line.split(",")
        fields[1] = str(parse_timestamp(fields[1]))
        rows.append(",".join(fields))
    path = _write(tmp_path, rows, header=lines[0])
    np.testing.assert_array_equal(read_market(path).snapshots, read_market(tiny_csv).snapshots)


def _without_pretty_encoding(source: Path, target: Path, undefined: str = "") -> Path:
    """Rewrite a CSV as Databento writes it without pretty_ts and pretty_px: integer
    nanoseconds and integer nano-dollars (a missing price as ``undefined``)."""
    import polars as pl

    from sor.core.timestamps import parse_timestamp as ts

    frame = pl.read_csv(source, infer_schema=False)
    prices = [c for c in frame.columns if c == "price" or "_px_" in c]

    def nanos(text: str | None) -> str:
        if text is None or not text.strip():
            return undefined
        return str(round(float(text) * 1_000_000_000))

    frame = frame.with_columns(
        pl.col("ts_event").map_elements(lambda t: str(ts(t)), return_dtype=pl.String),
        *[pl.col(c).map_elements(nanos, return_dtype=pl.String, skip_nulls=False) for c in prices],
    )
    frame.write_csv(target)
    return target


@pytest.mark.parametrize("undefined", ["", "9223372036854775807"])
def test_fixed_point_prices_are_read_too(tmp_path: Path, undefined: str) -> None:
    from sor.data.events import read_events
    from sor.data.generate import generate_market
    from sor.data.reader import sniff_format

    pretty = tmp_path / "pretty.csv"
    generate_market(pretty, venues=3, seed=9, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:42Z")  # fmt: skip
    fixed = _without_pretty_encoding(pretty, tmp_path / "fixed.csv", undefined)
    assert "222810000000" in fixed.read_text()
    found = sniff_format(fixed)
    assert found.integer_ts and found.fixed_prices
    assert not sniff_format(pretty).fixed_prices
    np.testing.assert_array_equal(read_market(fixed).snapshots, read_market(pretty).snapshots)
    np.testing.assert_array_equal(read_events(fixed), read_events(pretty))


def test_sub_dollar_fixed_point_prices_and_bare_integer_dollars(tmp_path: Path) -> None:
    from sor.data.reader import sniff_format

    ts = "1722519392000000000"
    # $0.2283 ask and $0.2282 bid in nano-dollars: nine digits
    fixed = _write(tmp_path, [_row(ts, 2, "228300000", "500", bid="228200000")])
    assert sniff_format(fixed).fixed_prices
    quote = read_market(fixed).snapshots[0]
    assert (quote["ask_px"], quote["bid_px"]) == (228_300_000, 228_200_000)
    # a hand-made file in whole dollars without a decimal point stays in dollars
    dollars = _write(tmp_path, [_row("2024-08-01T13:36:32Z", 2, "223", "500", bid="222")])
    assert not sniff_format(dollars).fixed_prices
    assert read_market(dollars).snapshots[0]["ask_px"] == 223_000_000_000


def test_a_missing_fixed_point_price_means_no_liquidity(tmp_path: Path, tiny_csv: Path) -> None:
    fixed = _without_pretty_encoding(tiny_csv, tmp_path / "fixed.csv", "9223372036854775807")
    lines = fixed.read_text().splitlines()
    header = lines[0].split(",")
    first = lines[1].split(",")
    first[header.index("ask_px_00")] = "9223372036854775807"
    fixed.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    snapshots = read_market(fixed).snapshots
    assert snapshots["ask_px"][0] == 0
    np.testing.assert_array_equal(snapshots[1:], read_market(tiny_csv).snapshots[1:])


def _corrupt(source: Path, target: Path, changes: dict[tuple[int, str], str]) -> Path:
    """Copy ``source`` with the values at (data row index, column) replaced."""
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    for (row, column), value in changes.items():
        cells = lines[row + 1].split(",")
        cells[header.index(column)] = value
        lines[row + 1] = ",".join(cells)
    target.write_text("\n".join(lines) + "\n")
    return target


def test_events_follow_the_snapshots_bad_row_policy(tmp_path: Path) -> None:
    from sor.data.events import read_events, snapshots_from_events
    from sor.data.generate import generate_market

    clean = tmp_path / "clean.csv"
    generate_market(clean, venues=3, seed=4, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:52Z", depth=10)  # fmt: skip
    bad = _corrupt(clean, tmp_path / "bad.csv", {
        (30, "ask_px_00"): "222.8x",  # the snapshots skip this row
        (40, "price"): "abc",  # a trade price: read as absent, row kept
        (50, "ask_sz_03"): "1e",  # a deeper level: read as absent, row kept
    })  # fmt: skip
    with pytest.raises(DataError) as first:
        read_events(bad)
    assert (first.value.line, first.value.column) == (32, "ask_px_00")
    only_deep = _corrupt(clean, tmp_path / "deep.csv", {(50, "ask_sz_03"): "1e"})
    with pytest.raises(DataError) as deep:
        read_events(only_deep)
    assert (deep.value.line, deep.value.column) == (52, "ask_sz_03")

    events = read_events(bad, skip_bad_rows=True)
    market = read_market(bad, skip_bad_rows=True)
    # a stream of these events rebuilds exactly the snapshots the file run backtests
    np.testing.assert_array_equal(snapshots_from_events(events), market.snapshots)
    assert len(events) == len(read_events(clean)) - 1
    header = clean.read_text().splitlines()[0].split(",")
    row = bad.read_text().splitlines()[41].split(",")
    ts = parse_timestamp(row[header.index("ts_event")])
    venue = int(row[header.index("publisher_id")])
    at = events[(events["ts_event"] == ts) & (events["publisher_id"] == venue)]
    assert 0 in at["price"].tolist()  # kept, its trade price absent
    # a window: a bad row outside it still counts, as for the snapshots
    start, end = parse_timestamp("2024-08-01T13:36:40Z"), parse_timestamp("2024-08-01T13:36:50Z")
    with pytest.raises(DataError):
        read_events(bad, start_ns=start, end_ns=end)
    windowed = read_events(bad, start_ns=start, end_ns=end, skip_bad_rows=True)
    np.testing.assert_array_equal(
        snapshots_from_events(windowed),
        read_market(bad, start_ns=start, end_ns=end, skip_bad_rows=True).snapshots,
    )
    assert windowed["ts_event"].min() >= start and windowed["ts_event"].max() <= end


def test_ck_backtest_skips_bad_rows_as_asked_and_records_them(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sor.cli import app
    from sor.data.generate import generate_market

    clean = tmp_path / "clean.csv"
    generate_market(clean, venues=3, seed=4, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:52Z", depth=10)  # fmt: skip
    bad = _corrupt(clean, tmp_path / "bad.csv", {(30, "ask_px_00"): "222.8x"})
    args = ["backtest", "--data", str(bad), "--model", "ck", "--order-size", "500",
            "--horizon", "0.5", "--lambda-under", "0.05", "--theta-queue", "0.005",
            "--lambda-over", "0.05", "--no-plot", "-q", "--json-out", str(tmp_path / "o.json")]  # fmt: skip
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "line 32" in refused.output
    done = CliRunner().invoke(app, [*args, "--skip-bad-rows"])
    assert done.exit_code == 0, done.output
    report = json.loads((tmp_path / "o.json").read_text())
    assert report["run"]["skipped_rows"] == {"bad_price": 1}
    assert report["strategies"]["router"]["unfilled"] == 0
