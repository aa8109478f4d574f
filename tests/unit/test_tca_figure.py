"""A blotter's figure and summary (``sor backtest --orders``): the figure is drawn where
``--plot`` says, the same bytes every time, none with ``--no-plot``, every text inside it,
the report's means on it; the summary on stderr is the report's figures."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

import sor
from cli_run import run_main
from sor.data.generate import generate_market
from sor.report.tca import size_bucket
from sor.report.tca_figure import tca_figure
from sor.report.tca_summary import tca_summary

ONE_SET = ["--lambda-over", "0.4", "--lambda-under", "0.4", "--theta-queue", "0.4"]
BLOTTER = (
    "id,time,side,size,end\n"
    "b1,2024-08-01T13:36:40Z,buy,3000,2024-08-01T13:37:20Z\n"
    "s1,2024-08-01T13:36:50Z,sell,2000,2024-08-01T13:37:50Z\n"
    "b2,2024-08-01T13:37:30Z,buy,500,\n"
    "s2,2024-08-01T13:37:45Z,sell,10000,2024-08-01T13:38:10Z\n"
)
ORDERS = BLOTTER.count("\n") - 1


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tca_figure") / "m.csv"
    generate_market(path, venues=3, seed=5, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:38:32Z", depth=10)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The blotter, and the figure the API's run wrote beside it (``api.png``)."""
    path = tmp_path_factory.mktemp("blotter")
    (path / "orders.csv").write_text(BLOTTER, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(market: Path, folder: Path) -> sor.Backtest:
    return sor.backtest(market, orders=folder / "orders.csv", plot=folder / "api.png",
                        lambda_over=0.4, lambda_under=0.4, theta_queue=0.4, workers=1)  # fmt: skip


def _backtest(
    market: Path, folder: Path, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[str, str]:
    outcome = run_main(["backtest", "--data", str(market), "--orders",
                        str(folder / "orders.csv"), "--workers", "1", "--json-out", "o.json",
                        *ONE_SET, *flags], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    return outcome.stdout, outcome.stderr


def test_the_figure_goes_where_a_single_orders_does_with_the_same_bytes_every_time(
    market: Path, folder: Path, run: sor.Backtest, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    stdout, _ = _backtest(market, folder, capsys, "-q")
    drawn = (tmp_path / "results.png").read_bytes()
    assert drawn[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn == (folder / "api.png").read_bytes()  # drawn apart, by the API's plot=
    assert stdout == run.json  # the figure leaves the report as it was


def test_no_plot_draws_nothing_and_quiet_prints_nothing(
    market: Path, folder: Path, run: sor.Backtest, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    stdout, stderr = _backtest(market, folder, capsys, "-q", "--no-plot")
    assert [p.name for p in tmp_path.iterdir()] == ["o.json"]
    assert (stdout, stderr) == (run.json, "")


def test_the_summary_goes_to_stderr_after_the_run(
    market: Path, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    stdout, stderr = _backtest(market, folder, capsys, "--no-plot")
    summary = tca_summary(json.loads(stdout))
    assert stderr.endswith("".join(f"sor: {line}\n" for line in summary.splitlines()))


def test_the_summary_is_the_reports_figures(run: sor.Backtest) -> None:
    tca = run.report["tca"]
    lines = tca_summary(run.report).splitlines()
    assert lines[0].startswith(f"{ORDERS} orders (2 buy, 2 sell)")
    rows = {line.split()[0]: line.split() for line in lines[2:6]}
    assert list(rows) == ["router", "best_quote", "twap", "vwap"]
    for name, figures in tca["strategies"].items():
        row = rows[name]
        assert int(row[1]) == ORDERS
        assert float(row[2]) == pytest.approx(figures["fill_rate"] * 100, abs=0.05)
        assert float(row[4]) == pytest.approx(figures["shortfall_bps"], abs=0.005)
        if name == "router":
            assert row[5:] == ["-", "-", "-"]  # no saving against itself
            continue
        saving = tca["router_savings_bps"][name]
        assert float(row[5]) == pytest.approx(saving["mean"], abs=0.005)
        assert float(row[6]) == pytest.approx(saving["won"] * 100, abs=0.05)
        assert row[7:10] == ["%", "of", str(saving["orders"])]
        assert row[10:] == ["no", "interval", "(a)"]
    # four orders of one hour: one reason, marked once, then how the orders are clustered
    assert lines[6:] == [
        f"(a) {ORDERS} orders from 1 hour: an interval needs at least 10 independent hours",
        "intervals: clustered by hour, 1 cluster; 10 needed",
    ]


def test_the_summary_gives_an_interval_where_the_report_does(run: sor.Backtest) -> None:
    report = _with_interval(run.report)
    lines = tca_summary(report).splitlines()
    twap = next(line for line in lines if line.startswith("twap"))
    assert twap.endswith("[-1.25, +0.50]")
    assert [line for line in lines if line.startswith("(a)")] == [
        f"(a) {ORDERS} orders from 1 hour: an interval needs at least 10 independent hours"
    ]


def test_every_text_lies_inside_the_figure(run: sor.Backtest) -> None:
    # one baseline with an interval, two without (their reason under the axis), a long title
    report = _with_interval(run.report)
    report["run"]["input"] = "generated: seed=7, venues=2,9,43,5,8,38, depth=10, " * 3
    figure = tca_figure(report, run.orders)
    figure.set_dpi(110)  # as it is written
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text()]
    assert len(texts) > 20  # the title, the panels' titles, labels, ticks and legends
    assert any("95 %: [-1.25, +0.50]" in t.get_text() for t in texts)
    assert any(t.get_text().startswith("no interval: 4 orders") for t in texts)
    for text in texts:
        box = text.get_window_extent(renderer)
        assert figure.bbox.x0 <= box.x0 and box.x1 <= figure.bbox.x1, text.get_text()
        assert figure.bbox.y0 <= box.y0 and box.y1 <= figure.bbox.y1, text.get_text()
    # and no tick label runs into its neighbour (times of day are long labels)
    for ax in figure.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
        for left, right in itertools.pairwise(sorted(boxes, key=lambda b: b.x0)):
            assert left.x1 <= right.x0, [t.get_text() for t in ax.get_xticklabels()]


def test_the_figure_marks_the_reports_means(run: sor.Backtest) -> None:
    tca = run.report["tca"]
    figure = run.plot()
    assert isinstance(figure, Figure)
    savings, by_size, _ = figure.axes[:3]
    means = [tuple(line.get_xydata()[0]) for line in savings.get_lines()
             if line.get_marker() == "D"]  # fmt: skip
    assert means == [(x, tca["router_savings_bps"][name]["mean"])
                     for x, name in enumerate(("best_quote", "twap", "vwap"))]  # fmt: skip
    assert f"no interval: {ORDERS} orders from 1 hour" in savings.get_xlabel()
    router = run.orders.filter(run.orders["strategy"] == "router")
    buckets = sorted({size_bucket(s, d) for s, d in router.select("size", "displayed_depth")
                      .iter_rows() if d > 0})  # fmt: skip
    drawn = _lines(by_size, "o")  # the router's: one mean per size bucket
    expected = sorted(tca["breakdown"]["size"][b]["shortfall_bps"]["router"] for b in buckets)
    assert sorted(y for _, y in drawn) == pytest.approx(expected)


def _with_interval(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` as if twap's savings had enough clusters for an interval."""
    changed = copy.deepcopy(report)
    twap = changed["tca"]["router_savings_bps"]["twap"]
    twap.update(ci95=[-1.25, 0.5], no_interval=None, clusters=10)
    return changed


def _lines(ax: Any, marker: str) -> list[tuple[float, float]]:
    """The points of the lines drawn with ``marker`` (the per-bucket means)."""
    return [
        (float(x), float(y))
        for line in ax.get_lines()
        if isinstance(line, Line2D) and line.get_marker() == marker
        for x, y in line.get_xydata()
    ]
