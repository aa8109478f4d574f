"""sor as a library: a backtest from Python, as ``sor backtest`` runs it.

:func:`backtest` takes the command's settings as keywords (its flags' names with ``_``)
and resolves them exactly as the command line does (``sor.app.config``): the keyword,
then the TOML file (``config=``, else ``SOR_CONFIG``), then the default. The same settings
give the same report, byte for byte (:attr:`Backtest.json` is the text ``--json-out``
writes). docs/api.md shows it in use.

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

from sor.core.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.figure import Figure

    from sor.ck.backtest import CkResult
    from sor.static.backtest import BacktestResult

SETTINGS = (
    "order_size", "side", "start", "end", "fee", "rebate", "lambda_over", "lambda_under",
    "theta_queue", "model", "horizon", "latency_us", "latency_sigma", "latency_seed",
    "queue_model", "crossing_fill", "trade_fill", "fallback_queue_model", "workers", "seed",
    "max_ts_distance",
)  # fmt: skip
"""The settings :func:`backtest` takes as keywords: ``sor backtest``'s flags of the same
names (with ``_``), the same ranges and defaults."""

_LISTS = ("lambda_over", "lambda_under", "theta_queue", "horizon")
"""The settings that are lists: a single number is taken as a list of one."""


@dataclasses.dataclass(frozen=True)
class Backtest:
    """The outcome of :func:`backtest`.

    Attributes
    ----------
    result
        The typed outcome: :class:`sor.static.backtest.BacktestResult` for the static model,
        :class:`sor.ck.backtest.CkResult` for model ck.
    report
        The report as ``sor backtest`` writes it (docs/semantics.md, docs/ck.md): its keys
        in the same order.
    """

    result: BacktestResult | CkResult
    report: dict[str, Any]

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
        """Draw the report's figure. Without ``path``, return it (a notebook shows it);
        with one, write it there as ``sor backtest --plot`` does (the format from the
        suffix, PNG without one; the same bytes) and return the path."""
        from sor.report import figures

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
    from sor.app.runs import ck_backtest, market_input, read_window_events, static_backtest
    from sor.app.settings import BacktestFlags
    from sor.data.lobster import input_files
    from sor.report.builder import build_report
    from sor.report.ck_report import build_ck_report

    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r}; the settings are: {', '.join(SETTINGS)}"
        )
    values = {name: _flag_value(name, value) for name, value in settings.items()}
    flags, file_config, config_file = read_settings(BacktestFlags, values, _path(config))
    book = _path(lobster_book)
    options = BacktestOptions.resolve(
        flags, file_config, config_file, json_out=_path(json_out) or Path("output.json"),
        plot=_path(plot), quiet=quiet, skip_bad_rows=skip_bad_rows,
        source=source_options(book, publisher),
    )  # fmt: skip
    with _local_data(data) as (path, label):
        if json_out is not None or plot is not None:
            outputs = [(_path(json_out), "--json-out"), (options.plot, "--plot")]
            from sor.app.outputs import check_outputs

            check_outputs(outputs, input_files(path, book))
        with market_input(path, options.seed, options) as (market, seed, read_path):
            if label is not None:
                market = dataclasses.replace(market, source=label)
            if options.ck is not None:
                events = read_window_events(read_path, options)
                result: BacktestResult | CkResult = ck_backtest(events, market, options,
                                                                seed=seed)  # fmt: skip
            else:
                result = static_backtest(market, options, seed=seed)
    run = Backtest(result, build_ck_report(result) if options.ck else build_report(result))  # type: ignore[arg-type]
    _write(run, _path(json_out), options.plot)
    return run


def _flag_value(name: str, value: Any) -> Any:
    """A keyword's value as the flag's: a choice's enum by its name, a number alone as a
    list of one where the setting is a list."""
    from sor.core.types import FillRule, QueueModel, Side

    if isinstance(value, Side | QueueModel | FillRule):
        return value.text
    if name in _LISTS and isinstance(value, int | float):
        return (value,)
    return value


def _path(value: str | PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


def _write(run: Backtest, json_out: Path | None, plot: Path | None) -> None:
    """Write the report and the figure where asked, each whole or not at all."""
    from sor.app.outputs import write_atomically

    if json_out is not None:
        text = run.json
        write_atomically(json_out, "--json-out", lambda p: p.write_text(text, encoding="utf-8"))
    if plot is not None:
        write_atomically(plot, "--plot", run.plot, suffix=".png")


@contextmanager
def _local_data(data: object) -> Iterator[tuple[Path | None, str | None]]:
    """Give ``data`` as a local file: a path as it is, a URL's temporary copy, a
    DataFrame's temporary CSV; None stays None (the generated market). Yield the path and
    the name the report gives the data when it is not the path's."""
    if data is None:
        yield None, None
        return
    if isinstance(data, str | PathLike):
        text = str(data)
        from sor.evaluate.days import is_url, local_copy

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


__all__: Sequence[str] = ("SETTINGS", "Backtest", "backtest")
