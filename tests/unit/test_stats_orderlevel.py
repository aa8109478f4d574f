"""``sor stats`` on order-level data: trades without an aggressor side signed by the quote
and tick rules and counted, and a window."""

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
from sor.stylized.book import QUOTE_RULE, SIGNED, TICK_RULE, UNSIGNED, read_book

T0 = 1_712_151_000_000_000_000
S = 1_000_000_000


def _rows() -> list[tuple]:
    """A top-of-book venue (41) quoting 10.00 / 10.10 and printing trades without a side,
    and a full-depth venue (39) with one trade that has one."""
    return [
        (T0, "A", "B", 10.00, 100, 4348, 64, 41),
        (T0, "A", "A", 10.10, 100, 4348, 192, 41),
        (T0 + S, "T", "N", 10.09, 5, 7, 192, 41),  # above the mid: a buy (quote rule)
        (T0 + 2 * S, "T", "N", 10.01, 5, 8, 192, 41),  # below: a sell
        (T0 + 3 * S, "T", "N", 10.05, 5, 9, 192, 41),  # at the mid, up from 10.01: a buy
        (T0 + 4 * S, "T", "N", 10.05, 5, 10, 192, 41),  # at the mid, no change: as before
        (T0 + 5 * S, "A", "B", 10.00, 100, 1, 128, 39),
        (T0 + 5 * S, "A", "A", 10.20, 100, 2, 128, 39),
        (T0 + 6 * S, "T", "A", 10.00, 10, 0, 128, 39),
    ]


def test_trades_without_a_side_are_signed_by_the_quote_then_the_tick_rule(
    tmp_path: Path,
) -> None:
    data = write_mbo_csv(tmp_path / "day.mbo.csv", *_rows())
    book, rows_read = read_book(data)
    assert rows_read == 9
    trades = book.trade
    assert book.sign[trades].tolist() == [-1, 1, -1, 1, 1]  # venue 39 first, then 41
    assert book.how[trades].tolist() == [SIGNED, QUOTE_RULE, QUOTE_RULE, TICK_RULE, TICK_RULE]
    assert UNSIGNED not in book.how[trades]


def test_sor_stats_counts_how_trades_were_signed_and_takes_a_window(tmp_path: Path) -> None:
    data = write_mbo_csv(tmp_path / "day.mbo.csv", *_rows())
    args = ["stats", str(data), "--no-plot", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["venues"]["41"]["trade_signs"] == {"from_data": 0, "quote_rule": 2,
                                                     "tick_rule": 2, "unsigned": 0}  # fmt: skip
    assert report["overall"]["trade_signs"]["from_data"] == 1
    window = CliRunner().invoke(app, [*args, "--start", "2024-04-03T13:30:01Z",
                                      "--end", "2024-04-03T13:30:03Z"])  # fmt: skip
    assert window.exit_code == 0, window.output
    inside = json.loads(window.stdout)
    assert inside["rows"] == 3 and inside["start"].startswith("2024-04-03T13:30:01")
    backwards = CliRunner().invoke(app, [*args, "--start", "2024-04-03T13:30:03Z",
                                         "--end", "2024-04-03T13:30:01Z"])  # fmt: skip
    assert backwards.exit_code == 2 and "--start comes after --end" in backwards.output


def test_sor_stats_reads_the_shared_googl_open() -> None:
    path = Path(__file__).resolve().parents[3] / "shared" / "data"
    path = path / "dbeq-basic-20240403-googl.mbo.dbn.zst"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared real data is not on this machine")
    result = CliRunner().invoke(app, ["stats", str(path), "--start", "2024-04-03T13:30:00Z",
                                      "--no-plot", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    signs = {v: report["venues"][v]["trade_signs"] for v in ("39", "40", "41")}
    # XCHI says who the aggressor was; IEX and NYSE National do not: the rules sign them
    assert signs["39"]["from_data"] > 0 and signs["39"]["quote_rule"] == 0
    for venue in ("40", "41"):
        assert signs[venue]["from_data"] == 0
        assert signs[venue]["quote_rule"] + signs[venue]["tick_rule"] > 0
    total = sum(sum(s.values()) for s in signs.values())
    assert total == sum(report["overall"]["trade_signs"].values())
    assert np.isfinite(report["venues"]["39"]["trades_per_s"])
