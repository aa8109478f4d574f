"""``sor convert``: order-level files written as the MBP-10/MBP-1 rows every command reads
from them, so that the figures of the two agree."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orderlevel_helpers import write_mbo_csv
from sor.cli import app
from sor.data.events import read_events

T0 = 1_712_151_000_000_000_000
MS = 1_000_000
MBP_FIELDS = ("ts_event", "publisher_id", "action", "side", "flags", "price", "size",
              "bid_px", "bid_sz", "ask_px", "ask_sz")  # fmt: skip
GOOGL = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "dbeq-basic-20240403-googl.mbo.dbn.zst"
)


def _day(folder: Path) -> Path:
    rows = [(T0, "A", "B", 10.00, 300, 1), (T0, "A", "A", 10.05, 300, 2),
            (T0 + MS, "A", "B", 10.01, 200, 3), (T0 + MS, "A", "A", 10.04, 200, 4),
            (T0 + 5 * MS, "T", "A", 10.01, 150, 0), (T0 + 5 * MS, "F", "B", 10.01, 150, 3),
            (T0 + 5 * MS, "C", "B", 10.01, 150, 3), (T0 + 9 * MS, "M", "A", 10.03, 200, 4),
            (T0 + 12 * MS, "T", "B", 10.03, 300, 0), (T0 + 12 * MS, "F", "A", 10.03, 200, 4),
            (T0 + 12 * MS, "C", "A", 10.03, 200, 4),
            (T0 + 2 * MS, "A", "B", 10.02, 100, 4348, 64, 41),
            (T0 + 2 * MS, "A", "A", 10.06, 100, 4348, 192, 41)]  # fmt: skip
    return write_mbo_csv(folder / "day.mbo.csv", *sorted(rows, key=lambda r: r[0]))


def _convert(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["convert", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", ["out.csv", "out.dbn", "out.dbn.zst"])
def test_the_converted_rows_are_the_events_every_command_reads(tmp_path: Path, name: str) -> None:
    source = _day(tmp_path)
    status, output = _convert(str(source), "--out", str(tmp_path / name))
    assert status == 0, output
    ours, theirs = read_events(source), read_events(tmp_path / name)
    assert len(theirs) == len(ours) == 13
    for field in MBP_FIELDS:
        np.testing.assert_array_equal(theirs[field], ours[field], err_msg=field)


def test_a_backtest_of_the_converted_file_gives_the_figures_of_the_order_level_one(
    tmp_path: Path,
) -> None:
    source = _day(tmp_path)
    assert _convert(str(source), "--out", str(tmp_path / "day.mbp10.csv"))[0] == 0

    def report(path: Path) -> dict:
        result = CliRunner().invoke(app, ["backtest", "--data", str(path), "--order-size", "300",
                                          "--no-plot", "--json-out", str(tmp_path / "o.json"),
                                          "--quiet"])  # fmt: skip
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        for key in ("input", "input_sha256", "rows_read"):
            out["run"].pop(key)
        return out

    assert report(source) == report(tmp_path / "day.mbp10.csv")


def test_mbp1_keeps_the_top_level_of_every_event(tmp_path: Path) -> None:
    source = _day(tmp_path)
    out = tmp_path / "day.mbp1.csv"
    assert _convert(str(source), "--out", str(out), "--depth", "1")[0] == 0
    header = out.read_text().splitlines()[0].split(",")
    assert "bid_px_00" in header and "bid_px_01" not in header and header[-1] == "symbol"
    ours, theirs = read_events(source), read_events(out)
    for side in ("bid", "ask"):
        for what in ("px", "sz"):
            name = f"{side}_{what}"
            np.testing.assert_array_equal(theirs[name][:, 0], ours[name][:, 0])
            assert (theirs[name][:, 1:] == 0).all()


def test_the_l2_models_fill_alike_on_both_files_and_fifo_needs_the_order_level_one(
    tmp_path: Path,
) -> None:
    source = _day(tmp_path)
    converted = tmp_path / "day.mbp10.csv"
    assert _convert(str(source), "--out", str(converted))[0] == 0
    base = ["fills", "--every", "0.002", "--horizon", "0.005", "--size", "100", "--no-plot",
            "--quiet"]  # fmt: skip
    for model in ("conservative", "probabilistic"):
        runs = [CliRunner().invoke(app, [*base, "--data", str(p), "--queue-model", model])
                for p in (source, converted)]  # fmt: skip
        assert all(r.exit_code == 0 for r in runs), [r.output for r in runs]
        reports = [json.loads(r.stdout) for r in runs]
        assert reports[0]["venues"] == reports[1]["venues"], model
    fifo = CliRunner().invoke(app, [*base, "--data", str(converted), "--queue-model", "fifo"])
    assert fifo.exit_code == 2 and "needs order-level data" in fifo.output


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--out", "x.parquet"], "--out: name a .csv, .dbn or .dbn.zst file"),
     (["--out", "x.csv", "--depth", "5"], "--depth must be 1 (MBP-1) or 10 (MBP-10)"),
     (["--out", "x.csv", "--publisher", "70000"], "--publisher: must be 0 to 65535")],
)  # fmt: skip
def test_bad_convert_options_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    source = _day(tmp_path)
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    status, output = _convert(str(source), *args, "--quiet")
    assert status == 2 and message in output and len(output.strip().splitlines()) == 1
    assert not (tmp_path / "x.csv").exists()


def test_convert_refuses_to_write_over_its_input_or_to_read_mbp(tmp_path: Path) -> None:
    source = _day(tmp_path)
    before = source.read_bytes()
    status, output = _convert(str(source), "--out", str(source), "--quiet")
    assert status == 2 and "is the input file" in output and source.read_bytes() == before
    mbp = tmp_path / "mbp.csv"
    assert _convert(str(source), "--out", str(mbp), "--quiet")[0] == 0
    status, output = _convert(str(mbp), "--out", str(tmp_path / "again.csv"), "--quiet")
    assert status == 2 and "not an order-level file" in output
    assert not (tmp_path / "again.csv").exists()


def test_databentos_own_reader_reads_the_converted_googl_day(tmp_path: Path) -> None:
    if not GOOGL.is_file():
        pytest.skip(f"{GOOGL} is absent: the shared real data is not on this machine")
    databento = pytest.importorskip("databento")
    out = tmp_path / "googl.mbp10.dbn.zst"
    status, output = _convert(str(GOOGL), "--out", str(out), "--quiet")
    assert status == 0, output
    ours = read_events(GOOGL)
    store = databento.DBNStore.from_file(out)
    assert store.metadata.schema == "mbp-10"
    records = store.to_ndarray()
    assert len(records) == len(ours) == 157_187
    undefined = np.iinfo(np.int64).max
    for k in (0, 4, 9):
        for side in ("bid", "ask"):
            px = records[f"{side}_px_{k:02d}"].astype(np.int64)
            np.testing.assert_array_equal(
                np.where(px == undefined, 0, px), ours[f"{side}_px"][:, k]
            )
            np.testing.assert_array_equal(records[f"{side}_sz_{k:02d}"], ours[f"{side}_sz"][:, k])
    assert set(np.unique(records["publisher_id"]).tolist()) == {39, 40, 41}


def test_the_shared_amzn_day_converted_to_mbp10_fills_as_the_lobster_files_do(
    tmp_path: Path,
) -> None:
    import zipfile

    archive = GOOGL.parent / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    if not archive.is_file():
        pytest.skip(f"{archive} is absent: the shared real data is not on this machine")
    with zipfile.ZipFile(archive) as handle:
        handle.extractall(tmp_path)
    message = next(tmp_path.glob("*_message_5.csv"))
    converted = tmp_path / "amzn.mbp10.dbn"
    assert _convert(str(message), "--out", str(converted), "--quiet")[0] == 0
    ours, theirs = read_events(message), read_events(converted)
    for field in MBP_FIELDS:
        np.testing.assert_array_equal(theirs[field], ours[field], err_msg=field)
    # the same orders: every L2 model fills them alike on both files; the exact queue needs
    # the order ids, which only the LOBSTER file has, and the default model on the MBP-10
    # file agrees with it as it does on the LOBSTER file
    base = ["fills", "--every", "20", "--size", "100,5000", "--horizon", "10", "--no-plot",
            "--quiet"]  # fmt: skip
    runs = {}
    for name, path, model in (("lobster", message, "conservative"),
                              ("mbp10", converted, "conservative"),
                              ("fifo", message, "fifo")):  # fmt: skip
        result = CliRunner().invoke(app, [*base, "--data", str(path), "--queue-model", model])
        assert result.exit_code == 0, result.output
        runs[name] = json.loads(result.stdout)
    assert runs["lobster"]["sizes"] == runs["mbp10"]["sizes"]
    for size in ("100", "5000"):
        exact = runs["fifo"]["sizes"][size]["venues"]["2"]["10"]
        model = runs["mbp10"]["sizes"][size]["venues"]["2"]["10"]
        assert exact["orders"] == model["orders"] > 1000
        assert abs(exact["mean_filled_fraction"] - model["mean_filled_fraction"]) <= max(
            0.005, 0.1 * exact["mean_filled_fraction"]
        )


def test_a_file_of_no_records_converts_to_the_header_alone(tmp_path: Path) -> None:
    source = write_mbo_csv(tmp_path / "empty.mbo.csv")
    for name in ("out.csv", "out.dbn"):
        status, output = _convert(str(source), "--out", str(tmp_path / name), "--quiet")
        assert status == 0, output
    header = (tmp_path / "out.csv").read_text().splitlines()
    assert len(header) == 1 and header[0].endswith(",symbol")
