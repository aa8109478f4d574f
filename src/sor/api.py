"""sor as a library: the commands' runs from Python, as the command line runs them.

:func:`backtest`, :func:`fills`, :func:`stats` (and :func:`compare`, its ``--compare``) and
:func:`evaluate` take their command's
settings as keywords (its flags' names with ``_``) and resolve them exactly as the command
line does (``sor.app``): the keyword, then the TOML file where the command reads one
(``config=``, else ``SOR_CONFIG``), then the default of ``sor.core.defaults``. The same
settings give the same report, byte for byte. docs/api.md shows them in use.

Bad input raises :class:`sor.SorError` (:class:`~sor.ConfigError` for a setting,
:class:`~sor.DataError` for a data file) whose message is the line the command prints
after ``sor: error:``.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sor.core.defaults import DEFAULT_EVALUATION_REPORT, DEFAULT_FILLS_EVERY_S, DEFAULT_REPORT
from sor.core.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.figure import Figure

    from sor.app.compare import CompareResult
    from sor.app.evaluate import EvaluateResult
    from sor.app.fills import FillsResult
    from sor.app.stats import StatsResult
    from sor.ck.backtest import CkResult
    from sor.static.backtest import BacktestResult
    from sor.static.orders import OrdersResult

SETTINGS = (
    "order_size", "side", "start", "end", "fee", "rebate", "lambda_over", "lambda_under",
    "theta_queue", "model", "horizon", "latency_us", "latency_sigma", "latency_seed",
    "queue_model", "crossing_fill", "trade_fill", "fallback_queue_model", "workers", "seed",
    "max_ts_distance", "order_horizon", "arrivals", "arrival_size_median", "arrival_size_sigma",
    "arrival_sides",
)  # fmt: skip
"""The settings :func:`backtest` takes as keywords: ``sor backtest``'s flags of the same
names (with ``_``), the same ranges and defaults."""

FILLS_SETTINGS = ("every", "size", "horizon", "queue_model", "latency_us", "side",
                  "crossing_fill", "trade_fill", "fallback_queue_model")  # fmt: skip
"""The settings :func:`fills` takes as keywords: ``sor fills``'s flags of the same names."""

STATS_SETTINGS = ("lags", "intervals", "horizons", "tick", "max_ts_distance")
"""The settings :func:`stats` takes as keywords: ``sor stats``'s flags of the same names."""

EVALUATE_SETTINGS = (*(name for name in SETTINGS
                       if name not in ("start", "end")),
                     "train_days", "resamples", "worker_timeout", "read_timeout",
                     "max_download")  # fmt: skip
"""The settings :func:`evaluate` takes as keywords: ``sor evaluate``'s flags of the same
names (``max_download`` in bytes)."""

_LISTS = ("lambda_over", "lambda_under", "theta_queue", "horizon", "size", "intervals",
          "horizons")  # fmt: skip
"""The settings that are lists: a single number is taken as a list of one."""


@dataclasses.dataclass(frozen=True)
class Backtest:
    """The outcome of :func:`backtest`.

    Attributes
    ----------
    result
        The typed outcome: :class:`sor.static.backtest.BacktestResult` for the static model,
        :class:`sor.ck.backtest.CkResult` for model ck, :class:`sor.static.orders.OrdersResult`
        for a blotter (``orders=``; model ck: :class:`sor.ck.orders.CkOrdersResult`, read
        the same way).
    report
        The report as ``sor backtest`` writes it (docs/semantics.md, docs/ck.md): its keys
        in the same order.
    """

    result: BacktestResult | CkResult | OrdersResult
    report: dict[str, Any]

    def _one_order(self, name: str) -> None:
        """Refuse what a blotter's run (``orders=``) does not give yet."""
        from sor.core.errors import SorError
        from sor.static.orders import OrdersResult

        if isinstance(self.result, OrdersResult):
            raise SorError(
                f"{name}: a run over a blotter gives its table as .orders; not yet {name}"
            )

    @property
    def orders(self) -> pl.DataFrame:
        """A blotter's run (``orders=``): one row per order and strategy, the table
        ``--orders-report`` writes (docs/report.md, "tca").

        Raises
        ------
        SorError
            The run routed one order, not a blotter.
        """
        from sor.core.errors import SorError
        from sor.report.tca import orders_table
        from sor.static.orders import OrdersResult

        if not isinstance(self.result, OrdersResult):
            raise SorError("orders: this run routed one order; give orders= a blotter")
        return orders_table(self.result)

    @property
    def json(self) -> str:
        """The report's text: what ``sor backtest --json-out`` writes, byte for byte."""
        from sor.report.builder import dumps

        return dumps(self.report)

    @property
    def model(self) -> str:
        """``static`` or ``ck``."""
        return self.result.config.model

    @property
    def fills(self) -> pl.DataFrame:
        """Every fill of every strategy, one row each, in the report's order of strategies.

        Columns: ``strategy``, ``ts_event`` (UTC, ns), ``shares``, ``price_nanos`` (the
        market's price, nano-dollars), ``fee_nanos`` (per share: the taker fee paid, a
        maker rebate earned negative) and ``price`` (dollars, for reading).
        """
        import polars as pl

        from sor.report.markouts import FillLog

        self._one_order("fills")
        logs: dict[str, FillLog] = {}
        if self.model == "ck":
            for name, outcome in self.result.strategies.items():  # type: ignore[union-attr]
                if outcome.fills is not None:
                    logs[name] = outcome.fills
        else:
            result: BacktestResult = self.result  # type: ignore[assignment]
            for name, strategy in {"router": result.router, **result.baselines}.items():
                logs[name] = FillLog.of_fills(strategy.fills)
        frames = [
            pl.DataFrame(
                {
                    "strategy": [name] * len(log.qty),
                    "ts_event": pl.Series(log.ts_ns, dtype=pl.Int64),
                    "shares": pl.Series(log.qty, dtype=pl.Int64),
                    "price_nanos": pl.Series(log.price_nanos, dtype=pl.Int64),
                    "fee_nanos": pl.Series(log.fee_nanos, dtype=pl.Int64),
                },
                schema_overrides={"strategy": pl.String},
            )
            for name, log in logs.items()
        ]
        table = pl.concat(frames) if frames else pl.DataFrame()
        return table.with_columns(
            pl.col("ts_event").cast(pl.Datetime("ns", "UTC")),
            (pl.col("price_nanos") / 1e9).alias("price"),
        )

    @property
    def search(self) -> pl.DataFrame:
        """The router's outcome at each point of the search, in the order searched.

        Columns: the parameters (``lambda_over``, ``lambda_under``, ``theta_queue``, and
        ``horizon_s`` for model ck), ``filled`` (shares), ``total_cash_nanos`` (exact; a
        sell's proceeds), ``avg_fill_px`` ($/share, fees included), for model ck
        ``passive_fill`` and ``rebates_nanos``, and ``chosen`` (the point the search chose).
        """
        import polars as pl

        self._one_order("search")
        rows: list[dict[str, Any]] = []
        if self.model == "ck":
            ck: CkResult = self.result  # type: ignore[assignment]
            for k, point in enumerate(ck.search):
                outcome = point.outcome
                rows.append({**point.as_dict(), "filled": outcome.total_fill,
                             "total_cash_nanos": outcome.total_cash_nanos,
                             "avg_fill_px": outcome.avg_fill_px,
                             "passive_fill": outcome.passive_fill,
                             "rebates_nanos": outcome.rebates_nanos,
                             "chosen": k == ck.best})  # fmt: skip
        else:
            static: BacktestResult = self.result  # type: ignore[assignment]
            for k, row in enumerate(static.search):
                rows.append({**row.parameters.as_dict(), "filled": row.result.total_fill,
                             "total_cash_nanos": row.result.total_cash_nanos,
                             "avg_fill_px": row.result.avg_fill_px,
                             "chosen": k == static.best})  # fmt: skip
        return pl.DataFrame(rows, infer_schema_length=None)

    def plot(self, path: str | PathLike[str] | None = None) -> Figure | Path:
        """Draw the report's figure (a blotter's: its cost analysis, docs/report.md).
        Without ``path``, return it (a notebook shows it); with one, write it there as
        ``sor backtest --plot`` does (the format from the suffix, PNG without one; the same
        bytes) and return the path."""
        from sor.report import figures
        from sor.static.orders import OrdersResult

        if isinstance(self.result, OrdersResult):
            from sor.report.tca import orders_table
            from sor.report.tca_figure import tca_figure, write_tca_plot

            table = orders_table(self.result)
            if path is None:
                return tca_figure(self.report, table)
            return write_tca_plot(self.report, table, Path(path))
        if self.model == "ck":
            ck: CkResult = self.result  # type: ignore[assignment]
            return figures.ck_figure(ck) if path is None else figures.write_ck_plot(ck, Path(path))
        static: BacktestResult = self.result  # type: ignore[assignment]
        if path is None:
            return figures.static_figure(static)
        return figures.write_plot(static, Path(path))


def backtest(
    data: str | PathLike[str] | Any | None = None,
    *,
    config: str | PathLike[str] | None = None,
    json_out: str | PathLike[str] | None = None,
    plot: str | PathLike[str] | None = None,
    skip_bad_rows: bool = False,
    lobster_book: str | PathLike[str] | None = None,
    publisher: int | None = None,
    quiet: bool = True,
    orders: str | PathLike[str] | None = None,
    orders_report: str | PathLike[str] | None = None,
    orders_out: str | PathLike[str] | None = None,
    **settings: Any,
) -> Backtest:
    """Backtest the router against the baselines, as ``sor backtest`` does.

    Parameters
    ----------
    data
        A Databento MBP or MBO file (CSV or DBN) or a LOBSTER message file; a URL of one
        (``https://``, ``s3://``, ...: copied to a temporary file first); a polars or
        pandas DataFrame in Databento's MBP layout, prices in dollars (written to a
        temporary CSV and read as a file); or None for the generated market (``seed``).
    config
        The TOML configuration file; else ``SOR_CONFIG``; else none.
    json_out, plot
        Where to write the report and the figure, as ``--json-out`` and ``--plot`` do;
        None (the default) writes nothing.
    skip_bad_rows, lobster_book, publisher
        As the flags of the same names.
    quiet
        No progress bars on stderr (the default, unlike the command).
    orders, orders_report
        As ``--orders`` and ``--orders-report``: a blotter of parent orders, each routed on
        its own window (static model); the report is then its cost analysis (``tca``).
    orders_out
        As ``--orders-out``: where to write the blotter ``arrivals=`` draws (CSV), which
        ``orders=`` reads back to the same run.
    **settings
        Any of :data:`SETTINGS`, named as the flags with ``_``: ``order_size=5000``,
        ``side="sell"``, ``model="ck"``, ``lambda_over=[0.1, 0.4]``, ``horizon=2.0``...

    Returns
    -------
    Backtest
        The typed result, the report, the fills and the search as tables, the figure.

    Raises
    ------
    ConfigError
        An unknown setting, or a value the command line would refuse (the same message).
    DataError
        The data cannot be read (the same message as the command's).
    """
    from sor.app.config import BacktestOptions, read_settings, source_options
    from sor.app.runs import ck_backtest, market_input, static_backtest
    from sor.app.settings import BacktestFlags
    from sor.data.lobster import input_files
    from sor.report.builder import build_report
    from sor.report.ck_report import build_ck_report

    values = _flag_values(settings, SETTINGS)
    flags, file_config, config_file = read_settings(BacktestFlags, values, _path(config))
    book = _path(lobster_book)
    options = BacktestOptions.resolve(
        flags, file_config, config_file, json_out=_path(json_out) or Path(DEFAULT_REPORT),
        plot=_path(plot), quiet=quiet, skip_bad_rows=skip_bad_rows,
        source=source_options(book, publisher), orders=_path(orders),
        orders_report=_path(orders_report), orders_out=_path(orders_out),
    )  # fmt: skip
    from sor.app.orders import check_orders_options

    check_orders_options(flags, options)
    with _local_data(data) as (path, label):
        if any(out is not None for out in (json_out, plot, orders_report, orders_out)):
            outputs = [(_path(json_out), "--json-out"), (options.plot, "--plot"),
                       (options.orders_report, "--orders-report"),
                       (options.orders_out, "--orders-out")]  # fmt: skip
            from sor.app.outputs import check_figure_format, check_outputs

            check_outputs(outputs, [*input_files(path, book), options.orders])
            check_figure_format(options.plot)
        ck = options.ck is not None
        from sor.app.orders import read_orders

        blotter = read_orders(options) if options.blotter else None
        with market_input(path, options.seed, options, events=ck,
                          trades=options.blotter) as (market, seed, _):  # fmt: skip
            if label is not None:
                market = dataclasses.replace(market, source=label)
            if options.blotter:
                return _orders_run(market, blotter, options, seed, write=json_out is not None)
            if market.events is not None:
                result: BacktestResult | CkResult = ck_backtest(market.events, market, options,
                                                                seed=seed)  # fmt: skip
            else:
                result = static_backtest(market, options, seed=seed)
    run = Backtest(result, build_ck_report(result) if options.ck else build_report(result))  # type: ignore[arg-type]
    _write(run, _path(json_out), options.plot)
    return run


def fills(
    data: str | PathLike[str] | Any,
    *,
    compare: bool = False,
    json_out: str | PathLike[str] | None = None,
    orders_out: str | PathLike[str] | None = None,
    plot: str | PathLike[str] | None = None,
    skip_bad_rows: bool = False,
    lobster_book: str | PathLike[str] | None = None,
    publisher: int | None = None,
    **settings: Any,
) -> FillsResult:
    """Study how passive orders fill, as ``sor fills`` does (docs/ck.md).

    ``data`` is taken as by :func:`backtest` (but not None); ``settings`` are any of
    :data:`FILLS_SETTINGS` (``every=1``, ``size=[100, 5000]``, ``horizon=[2, 10]``,
    ``queue_model="fifo"``...); ``json_out``, ``orders_out`` and ``plot`` write what the
    flags of the same names write (by default nothing).

    Returns
    -------
    sor.app.fills.FillsResult
        ``.report`` (what the command prints), ``.orders`` (one row per order placed),
        ``.table`` (the orders as a polars DataFrame), ``.figure()``, ``.summary()``.

    Raises
    ------
    SorError
        As :func:`backtest`: the line the command would print.
    """
    from sor.app import fills as app
    from sor.app.config import source_options
    from sor.app.settings import FillsFlags, check_flags
    from sor.core import defaults

    values = {
        "every": defaults.DEFAULT_FILLS_EVERY_S, "size": defaults.DEFAULT_FILLS_SIZES,
        "horizon": defaults.DEFAULT_FILLS_HORIZONS_S, "queue_model": defaults.DEFAULT_QUEUE_MODEL,
        "latency_us": defaults.DEFAULT_LATENCY_US, "side": defaults.DEFAULT_SIDE,
        "crossing_fill": defaults.DEFAULT_CROSSING_FILL,
        "trade_fill": defaults.DEFAULT_TRADE_FILL,
        "fallback_queue_model": defaults.DEFAULT_FALLBACK_QUEUE_MODEL,
        **_flag_values(settings, FILLS_SETTINGS),
    }  # fmt: skip
    flags = check_flags(FillsFlags, values)
    book = _path(lobster_book)
    outputs = app.FillsOutputs(_path(json_out), _path(orders_out), _path(plot))
    with _local_data(data, required=True) as (path, label):
        assert path is not None
        outputs.check(path, book)
        options = app.FillsSettings.from_flags(
            flags, compare=compare, skip_bad_rows=skip_bad_rows,
            source=source_options(book, publisher),
        )  # fmt: skip
        result = app.run(path, options)
    if label is not None:
        result.report["run"]["data"] = label
    app.write(result, outputs)
    return result


def stats(
    data: str | PathLike[str] | Any,
    *,
    start: str | None = None,
    end: str | None = None,
    plot: str | PathLike[str] | None = None,
    skip_bad_rows: bool = False,
    lobster_book: str | PathLike[str] | None = None,
    publisher: int | None = None,
    **settings: Any,
) -> StatsResult:
    """Measure a file's stylized facts, as ``sor stats`` does (docs/stats.md).

    ``data`` is taken as by :func:`backtest` (but not None); ``settings`` are any of
    :data:`STATS_SETTINGS`; ``plot`` writes the figure there (by default nothing).

    Returns
    -------
    sor.app.stats.StatsResult
        ``.report`` (what the command prints), ``.stats`` (typed), ``.figure()``.

    Raises
    ------
    SorError
        As :func:`backtest`: the line the command would print.
    """
    from sor.app import stats as app
    from sor.app.config import source_options
    from sor.app.settings import StatsFlags, check_flags
    from sor.core import defaults

    window = app.window(start, end)
    book = _path(lobster_book)
    source = source_options(book, publisher)
    values = {
        "lags": defaults.DEFAULT_STATS_LAGS, "intervals": defaults.DEFAULT_STATS_INTERVALS_S,
        "horizons": defaults.DEFAULT_STATS_HORIZONS_S, "tick": defaults.DEFAULT_TICK,
        "max_ts_distance": defaults.DEFAULT_MAX_TS_DISTANCE_H,
        **_flag_values(settings, STATS_SETTINGS),
    }  # fmt: skip
    flags = check_flags(StatsFlags, values)
    outputs = app.StatsOutputs(_path(plot))
    with _local_data(data, required=True) as (path, label):
        assert path is not None
        outputs.check(path, book)
        options = app.StatsSettings.from_flags(
            flags, window=window, skip_bad_rows=skip_bad_rows, source=source
        )
        result = app.run(path, options)
    if label is not None:
        result.report["file"] = label
    app.write(result, outputs)
    return result


def compare(
    real: str | PathLike[str] | Any,
    generated: str | PathLike[str] | Any,
    *,
    start: str | None = None,
    end: str | None = None,
    plot: str | PathLike[str] | None = None,
    json_out: str | PathLike[str] | None = None,
    skip_bad_rows: bool = False,
    lobster_book: str | PathLike[str] | None = None,
    publisher: int | None = None,
    fill_every: float = DEFAULT_FILLS_EVERY_S,
    **settings: Any,
) -> CompareResult:
    """Hold ``generated``'s stylized facts to ``real``'s, as ``sor stats --compare`` does
    (docs/stats.md, "Comparing two files").

    Each file is taken as ``data`` by :func:`stats`; ``settings`` are any of
    :data:`STATS_SETTINGS`, for both; ``plot`` and ``json_out`` write the figure and the
    report there (by default nothing).

    Returns
    -------
    sor.app.compare.CompareResult
        ``.report`` (what the command prints), ``.passed``, ``.table()``, ``.figure()``.

    Raises
    ------
    SorError
        As :func:`backtest`: the line the command would print.
    """
    from sor.app import compare as app
    from sor.app.config import source_options
    from sor.app.settings import StatsFlags, check_flags
    from sor.app.stats import StatsSettings, window
    from sor.core import defaults

    bounds = window(start, end)
    book = _path(lobster_book)
    source = source_options(book, publisher)
    values = {
        "lags": defaults.DEFAULT_STATS_LAGS, "intervals": defaults.DEFAULT_STATS_INTERVALS_S,
        "horizons": defaults.DEFAULT_STATS_HORIZONS_S, "tick": defaults.DEFAULT_TICK,
        "max_ts_distance": defaults.DEFAULT_MAX_TS_DISTANCE_H, "fill_every": fill_every,
        **_flag_values(settings, STATS_SETTINGS),
    }  # fmt: skip
    flags = check_flags(StatsFlags, values)
    outputs = app.CompareOutputs(_path(json_out), _path(plot))
    with (
        _local_data(real, required=True) as (real_path, real_label),
        _local_data(generated, required=True) as (generated_path, generated_label),
    ):
        assert real_path is not None and generated_path is not None
        outputs.check([real_path, generated_path], book)
        options = StatsSettings.from_flags(
            flags, window=bounds, skip_bad_rows=skip_bad_rows, source=source
        )
        result = app.run(real_path, generated_path, app.CompareSettings(options, fill_every))
    for side, label in (("real", real_label), ("generated", generated_label)):
        if label is not None:
            result.report[side]["file"] = label
            result.report["compare"][side]["file"] = label
    app.write(result, outputs)
    return result


def evaluate(
    data: str | PathLike[str] | Sequence[str | PathLike[str]],
    *,
    config: str | PathLike[str] | None = None,
    scheduler: str | None = None,
    json_out: str | PathLike[str] | None = None,
    plot: str | PathLike[str] | None = None,
    skip_bad_rows: bool = False,
    publisher: int | None = None,
    quiet: bool = True,
    orders: str | PathLike[str] | None = None,
    orders_out: str | PathLike[str] | None = None,
    **settings: Any,
) -> EvaluateResult:
    """Tune the router walk-forward over many days and score it out of sample, as ``sor
    evaluate`` does (docs/evaluate.md), on a local Dask cluster or ``scheduler``'s.

    ``data``: day files, directories, globs or URLs (one or a list); ``settings`` any of
    :data:`EVALUATE_SETTINGS`; ``json_out`` and ``plot`` write what the flags write (by
    default nothing); ``orders`` a blotter, as ``--orders``; ``orders_out`` where the
    orders ``arrivals`` draws are written, as ``--orders-out``.

    Returns
    -------
    sor.app.evaluate.EvaluateResult
        ``.report`` (what ``--json-out`` holds), ``.summary``, ``.figure()``.

    Raises
    ------
    SorError
        As :func:`backtest`: the line the command would print.
    """
    from sor.app import evaluate as app
    from sor.app.settings import EvaluateFlags, check_flags

    flags = check_flags(EvaluateFlags, _flag_values(settings, EVALUATE_SETTINGS))
    options = app.EvaluateSettings.from_flags(
        flags, config=_path(config), scheduler=scheduler, skip_bad_rows=skip_bad_rows,
        publisher=publisher, orders=_path(orders), orders_out=_path(orders_out),
    )  # fmt: skip
    inputs = [data] if isinstance(data, str | PathLike) else list(data)
    days = app.find_days([str(day) for day in inputs], options)
    if json_out is not None or plot is not None or orders_out is not None:
        report = _path(json_out) or Path(DEFAULT_EVALUATION_REPORT)
        outputs = app.EvaluateOutputs(report, _path(plot), _path(orders_out))
        outputs.check(days, options.orders)
    result = app.run(days, options, quiet=quiet)
    from sor.app.outputs import write_atomically

    if json_out is not None:
        text = result.text()
        write_atomically(
            Path(json_out), "--json-out", lambda p: p.write_text(text, encoding="utf-8")
        )
    if plot is not None:
        write_atomically(Path(plot), "--plot", result.write_plot, suffix=".png")
    if orders_out is not None and result.drawn is not None:
        write_atomically(Path(orders_out), "--orders-out", result.drawn.table().write_csv)
    return result


def _flag_values(settings: dict[str, Any], known: Sequence[str]) -> dict[str, Any]:
    """The keywords ``settings`` as their flags' values; an unknown one is refused."""
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}; the settings are: {', '.join(known)}")
    return {name: _flag_value(name, value) for name, value in settings.items()}


def _flag_value(name: str, value: Any) -> Any:
    """A keyword's value as the flag's: a choice's enum by its name, a number alone as a
    list of one where the setting is a list."""
    from sor.core.types import FillRule, QueueModel, Side

    if isinstance(value, Side | QueueModel | FillRule):
        return value.text
    if name in _LISTS and isinstance(value, int | float):
        return (value,)
    if name in _LISTS and isinstance(value, list):
        return tuple(value)
    return value


def _path(value: str | PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


def _orders_run(
    market: Any, blotter: Any, options: Any, seed: int | None, *, write: bool
) -> Backtest:
    """Backtest ``blotter`` (None: the one ``arrivals=`` draws) on ``market``; write what
    was asked."""
    from sor.app import orders as app

    drawn = app.drawn_orders(market, blotter, options)
    result = app.orders_backtest(market, drawn, options, seed=seed)
    run = Backtest(result, app.orders_report(result, options))
    _write(run, options.json_out if write else None, options.plot)
    if options.orders_report is not None:
        app.write_orders_table(result, options.orders_report)
    app.write_drawn_orders(drawn, options)
    return run


def _write(run: Backtest, json_out: Path | None, plot: Path | None) -> None:
    """Write the report and the figure where asked, each whole or not at all."""
    from sor.app.outputs import write_atomically

    if json_out is not None:
        text = run.json
        write_atomically(json_out, "--json-out", lambda p: p.write_text(text, encoding="utf-8"))
    if plot is not None:
        write_atomically(plot, "--plot", run.plot, suffix=".png")


@contextmanager
def _local_data(data: object, required: bool = False) -> Iterator[tuple[Path | None, str | None]]:
    """Give ``data`` as a local file: a path as it is, a URL's temporary copy, a
    DataFrame's temporary CSV; None stays None (the generated market) unless ``required``.
    Yield the path and the name the report gives the data when it is not the path's."""
    if data is None:
        if required:
            raise ConfigError("data: give a file, a URL or a DataFrame")
        yield None, None
        return
    if isinstance(data, str | PathLike):
        text = str(data)
        from sor.evaluation.days import is_url, local_copy

        if not is_url(text):
            yield Path(text), None
            return
        with local_copy(text) as path:
            yield path, text
        return
    kind = f"{type(data).__module__.split('.')[0]}.{type(data).__name__}"
    if kind not in ("polars.DataFrame", "pandas.DataFrame"):
        raise ConfigError(
            f"data: expected a path, a URL, a polars or pandas DataFrame or None, got {kind}"
        )
    with tempfile.TemporaryDirectory(prefix="sor-frame-") as folder:
        path = Path(folder) / "frame.csv"
        if kind == "polars.DataFrame":
            data.write_csv(path)  # type: ignore[attr-defined]
        else:
            data.to_csv(path, index=False)  # type: ignore[attr-defined]
        yield path, f"{kind} ({len(data)} rows)"  # type: ignore[arg-type]


__all__: Sequence[str] = ("EVALUATE_SETTINGS", "FILLS_SETTINGS", "SETTINGS", "STATS_SETTINGS",
                          "Backtest", "backtest", "compare", "evaluate", "fills",
                          "stats")  # fmt: skip
