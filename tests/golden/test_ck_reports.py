"""Model ck's reports on a small generated market, byte for byte: ``ck_buy.json`` and
``ck_sell.json`` are what ``sor backtest --model ck`` wrote (tests/golden/README.md).

Only the version line is left out of the comparison: a release changes it, nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli_run import run_main
from sor.data.generate import generate_market

GOLDEN = Path(__file__).parent
MARKET = "market.csv"
"""The market's name as the reports record it (``run.input``): the runs read it from
their working directory."""
SEARCH = ["--model", "ck", "--order-size", "2000", "--lambda-under", "0.01,0.2",
          "--theta-queue", "0.0005,0.05", "--horizon", "0.5,2"]  # fmt: skip
CASES = {
    "ck_buy.json": [],
    "ck_sell.json": ["--side", "sell", "--crossing-fill", "whole", "--latency-sigma", "0.5"],
}
_VERSION = re.compile(r'^    "version": "[^"]*",$', re.MULTILINE)


def versionless(report: str) -> str:
    """Return the report's JSON with the value of ``run.version`` blanked."""
    return _VERSION.sub('    "version": "",', report)


@pytest.fixture(scope="module")
def market_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the golden market: 3 venues, MBP-10, 30 seconds, seed 5."""
    folder = tmp_path_factory.mktemp("ck-golden")
    generate_market(folder / MARKET, venues=3, seed=5, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:02Z", depth=10)  # fmt: skip
    return folder


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_command_writes_the_golden_report(
    name: str,
    market_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(market_folder)
    args = ["backtest", "--data", MARKET, *SEARCH, *CASES[name], "--json-out", name,
            "--no-plot", "--quiet"]  # fmt: skip
    result = run_main(args, capsys)
    assert result.returncode == 0, result.stderr
    expected = versionless((GOLDEN / name).read_text(encoding="utf-8"))
    assert versionless((market_folder / name).read_text(encoding="utf-8")) == expected
    assert versionless(result.stdout) == expected
