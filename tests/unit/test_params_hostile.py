"""``sor generate --params`` with hand-edited files that are wrong: each is refused in one
line, exit status 2, nothing written; never a traceback nor a file of nonsense."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_run import run_main
from sor.core.errors import ConfigError
from sor.data.generate import VenueModel
from sor.data.market_params import MarketParams, read_params

START, END = "2024-08-01T13:36:32Z", "2024-08-01T13:36:42Z"


def _file(tmp_path: Path, **market: object) -> str:
    """A good parameters file of two venues, its window set by ``market``."""
    params = MarketParams(
        venues=(VenueModel(publisher_id=2), VenueModel(publisher_id=9)),
        start=str(market.get("start", START)),
        end=str(market.get("end", END)),
    )
    return params.to_toml()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_good_file_reads(tmp_path: Path) -> None:
    assert len(read_params(_write(tmp_path, _file(tmp_path))).venues) == 2


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("rate = 111.0", "rate = true", "venues.0.rate: a boolean"),
        ("price_moves = 0.35", "price_moves = false", "market.price_moves: a boolean"),
        ("format = 1", 'format = "1"', "format: text"),
        ("rate = 111.0", 'rate = "111"', "venues.0.rate: text"),
        ("spread_ticks = []", 'spread_ticks = [1.0, "2"]', "venues.0.spread_ticks.1: text"),
        ("informed = 0.15", "informed = true", "flow.informed: a boolean"),
    ],
)
def test_a_boolean_or_text_where_a_number_goes_is_refused(
    tmp_path: Path, old: str, new: str, named: str
) -> None:
    text = _file(tmp_path)
    assert old in text
    with pytest.raises(ConfigError, match=named):
        read_params(_write(tmp_path, text.replace(old, new, 1)))


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("add_level_mean = 2.0", "add_level_mean = 1e300", "add_level_mean must be at most"),
        ("cancel_level_mean = 2.0", "cancel_level_mean = 1e9", "cancel_level_mean must be"),
        ("latency_us = 170.0", "latency_us = 1e300", "latency_us must be at most"),
        ("spread_ticks = []", f"spread_ticks = [{', '.join(['1.0'] * 1001)}]", "at most 1000"),
    ],
)
def test_a_value_that_would_overflow_the_simulation_is_refused(
    tmp_path: Path, old: str, new: str, named: str
) -> None:
    """1e300 as the mean level drew levels past int64 (prices of -9e16 $ in the file), as
    the latency drew receive times before the events."""
    with pytest.raises(ConfigError, match=named):
        read_params(_write(tmp_path, _file(tmp_path).replace(old, new, 1)))


def test_the_largest_values_allowed_still_read(tmp_path: Path) -> None:
    text = (
        _file(tmp_path)
        .replace("add_level_mean = 2.0", "add_level_mean = 1000.0", 1)
        .replace("latency_us = 170.0", "latency_us = 1000000.0", 1)
    )
    venue = read_params(_write(tmp_path, text)).venues[0]
    assert (venue.add_level_mean, venue.latency_us) == (1000.0, 1e6)


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        ("yesterday", END, "market.start: invalid timestamp 'yesterday'"),
        (START, "2024-13-01", "market.end: invalid timestamp"),
        (START, "2020-01-01T00:00:00Z", "market.end 2020-01-01T00:00:00Z must come after"),
    ],
)
def test_a_window_that_is_not_one_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str, end: str, named: str
) -> None:
    """The file's window is read when no --start or --end is given: a bad one was a
    traceback."""
    path = _write(tmp_path, _file(tmp_path, start=start, end=end))
    out = tmp_path / "m.csv"
    outcome = run_main(["generate", "-q", "--params", str(path), "--out", str(out)], capsys)
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sor: error: --params: ")
    assert named in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("multiplier", ["1e300", "1001.0"])
def test_a_huge_activity_multiplier_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], multiplier: str
) -> None:
    """1e300 passed the file's check and stopped the run with a ValueError's traceback."""
    activity = f"[activity]\nstart_s = 0\nbucket_s = 86400\nmultipliers = [{multiplier}]\n\n"
    text = _file(tmp_path).replace("[[venues]]", activity + "[[venues]]", 1)
    path = _write(tmp_path, text)
    out = tmp_path / "m.csv"
    outcome = run_main(["generate", "-q", "--params", str(path), "--out", str(out)], capsys)
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and "activity.multipliers.0" in lines[0], lines
    assert not out.exists()


def test_a_multiplier_that_is_not_positive_names_the_file(tmp_path: Path) -> None:
    activity = "[activity]\nstart_s = 0\nbucket_s = 60\nmultipliers = [0.0]\n\n"
    text = _file(tmp_path).replace("[[venues]]", activity + "[[venues]]", 1)
    with pytest.raises(ConfigError, match=r"^--params: .*p\.toml: activity\.multipliers"):
        read_params(_write(tmp_path, text))


@pytest.mark.parametrize("name", ["m.dbn", "m.dbn.zst", "m.csv.zst"])
def test_an_mbp_market_named_as_dbn_or_compressed_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """--schema mbp wrote its CSV under the name m.dbn, which sor stats then read as DBN."""
    out = tmp_path / name
    outcome = run_main(["generate", "-q", "--out", str(out), "--start", START, "--end", END,
                        "--venues", "2"], capsys)  # fmt: skip
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert lines == [f"sor: error: --out {name}: --schema mbp writes a CSV; name a .csv file, "
                     "or give --schema mbo for DBN"]  # fmt: skip
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("name", "schema"), [("m.csv", "mbp"), ("m.dbn", "mbo")])
def test_a_market_walking_below_zero_is_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, schema: str
) -> None:
    """A 1 $ market moving 10 $ at a time fifty times a second wrote prices of -59 $."""
    text = (
        _file(tmp_path)
        .replace("start_price = 222.81", "start_price = 1.0", 1)
        .replace("move_ticks = 1", "move_ticks = 1000", 1)
        .replace("price_moves = 0.35", "price_moves = 50.0", 1)
    )
    assert "move_ticks = 1000" in text and "start_price = 1.0" in text
    path = _write(tmp_path, text)
    out = tmp_path / name
    outcome = run_main(["generate", "-q", "--params", str(path), "--out", str(out),
                        "--schema", schema], capsys)  # fmt: skip
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sor: error: the market's prices reach -")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.toml"]


def test_a_pipe_or_a_device_is_refused_not_read_forever(tmp_path: Path) -> None:
    """--params /dev/zero read until memory ran out, and a FIFO waited for a writer."""
    import os

    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"p\.toml is not a regular file$"):
        read_params(fifo)
    if Path("/dev/zero").exists():
        with pytest.raises(ConfigError, match=r"/dev/zero is not a regular file$"):
            read_params(Path("/dev/zero"))


def test_a_file_past_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    from sor.data.market_params import MAX_FILE_BYTES

    path = tmp_path / "big.toml"
    good = _file(tmp_path)
    path.write_text(good + "#" * (MAX_FILE_BYTES - len(good)) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than 16 MB"):
        read_params(path)
    path.write_text(good + "#" * (MAX_FILE_BYTES - len(good) - 1) + "\n", encoding="utf-8")
    assert len(read_params(path).venues) == 2  # the cap itself still reads


def test_fitting_a_file_that_is_not_market_data_names_no_other_commands_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--like p.toml said '--model ck needs them', a flag of sor backtest."""
    path = _write(tmp_path, "a,b\n1,2\n")
    outcome = run_main(["generate", "-q", "--like", str(path), "--params-out",
                        str(tmp_path / "x.toml")], capsys)  # fmt: skip
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        f"sor: error: {path}, column 'ts_event': missing column(s) ts_event, publisher_id, "
        "action, side, price, size, bid_px_00, bid_sz_00, ask_px_00, ask_sz_00; every event "
        "of the book is read from them"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.toml"]
