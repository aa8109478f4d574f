"""The help a new user reads: every option explained, every default shown once and true."""

from __future__ import annotations

import re

import pytest
import typer

from cli_run import run_main
from sor import __version__
from sor.app.runs import CKOptions, topic_name
from sor.app.settings import FileConfig
from sor.ck.backtest import DEFAULT_CK_GRID
from sor.ck.queue import CROSSING_FILLS, QUEUE_MODELS
from sor.cli import app
from sor.core.defaults import DEFAULT_GAP_TIMEOUT_S, DEFAULT_HORIZONS_S, DEFAULT_TOPIC
from sor.core.domain import NANOS_PER_SECOND
from sor.data.generate import DEFAULT_DURATION_NS
from sor.static.backtest import BacktestConfig

ROOT = typer.main.get_command(app)
assert isinstance(ROOT, typer.main.TyperGroup)
COMMANDS = sorted(ROOT.commands)
DEFAULT = re.compile(r"\[default: ([^\]]*)\]")


@pytest.fixture(autouse=True)
def _terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render the help at 80 columns, whatever the terminal running the tests."""
    monkeypatch.setenv("COLUMNS", "80")


def _help(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    outcome = run_main([*args, "--help"], capsys)
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stderr == ""
    return outcome.stdout


def _records(name: str | None) -> dict[str, str]:
    """The help of each parameter of command ``name`` (None: the root), as click lays it out
    (typer's own default included), keyed by its first flag or its argument name."""
    command = ROOT if name is None else ROOT.commands[name]
    context = command.context_class(command, info_name=name or "sor")
    records = {}
    for param in command.params:
        record = param.get_help_record(context)
        assert record is not None, param.name
        records[param.opts[0] if param.param_type_name == "option" else str(param.name)] = record[1]
    return records


def _squeezed(text: str) -> str:
    """``text`` without any whitespace: click wraps lines, and breaks them after a hyphen."""
    return "".join(text.split())


@pytest.mark.parametrize("name", [None, *COMMANDS])
def test_every_parameter_is_explained_in_the_help(
    name: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ROOT if name is None else ROOT.commands[name]
    rendered = _help([] if name is None else [name], capsys)
    for param in command.params:
        text = getattr(param, "help", None)
        assert text and text.strip(), f"{name} {param.name}: no help"
        assert _squeezed(text) in _squeezed(rendered), f"{name} {param.name}: help lost"


@pytest.mark.parametrize("name", [None, *COMMANDS])
def test_help_has_no_markup_accident_or_metavar_clutter(
    name: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = _help([] if name is None else [name], capsys)
    for line in rendered.splitlines():
        assert not re.search(r" \.(\s|$)", line), f"text lost before the period: {line!r}"
        assert "[]" not in line, line
    assert "<bool>" not in rendered
    command = ROOT if name is None else ROOT.commands[name]
    columns = [ln.strip().split("  ")[0] for ln in rendered.splitlines() if ln.startswith("  -")]
    for flag in (p for p in command.params if getattr(p, "is_flag", False)):
        column = next(c for c in columns if flag.opts[0] in c.replace(",", " ").split())
        assert "<" not in column, f"{flag.opts[0]} shows a value to type: {column!r}"


@pytest.mark.parametrize("name", [None, *COMMANDS])
def test_every_default_is_shown_once_in_one_style(name: str | None) -> None:
    for flag, text in _records(name).items():
        assert text.count("[default:") <= 1, f"{name} {flag}: {text}"
        assert "default:" not in text.lower().replace("[default:", ""), f"{name} {flag}: {text}"
        assert "(default" not in text.lower(), f"{name} {flag}: {text}"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_shows_an_example(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    examples = [
        line.strip()
        for line in _help([name], capsys).splitlines()
        if line.strip().startswith("Example:")
    ]
    assert examples, name
    for example in examples:
        words = example.removeprefix("Example:").split()
        assert words[:2] == ["sor", name], example
        known = {opt for param in ROOT.commands[name].params for opt in param.opts}
        for word in words:
            if word.startswith("-"):
                assert word in known, f"{example}: {word} is no flag of sor {name}"


def test_the_command_list_shows_each_summary_whole(capsys: pytest.CaptureFixture[str]) -> None:
    rendered = _help([], capsys)
    listing = rendered.split("Commands:")[1]
    for name in COMMANDS:
        assert re.search(rf"^  {name} +\S", listing, re.MULTILINE), name
    assert "..." not in listing


def test_the_top_level_help_names_what_sor_does(capsys: pytest.CaptureFixture[str]) -> None:
    wrapped = _help([], capsys).split("Examples:")[0]
    about = " ".join(re.sub(r"-\n\s*", "-", wrapped).split())  # click breaks at hyphens
    for told in ("route a parent buy or sell order across venues", "static Cont-Kukanov",
                 "full Cont-Kukanov model", "(--model ck)", "blotters", "(--orders)",
                 "over many days (sor evaluate)"):  # fmt: skip
        assert told in about, told


def test_backtest_help_states_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    rendered = _help(["backtest"], capsys)
    for value in ("mock_l1_stream", "5000", "0.003", "0.002", "conservative", "latest"):
        assert f"[default: {value}]" in " ".join(rendered.split()), value


def _shown(name: str, flag: str) -> str:
    """The default the help of ``sor name`` shows for ``flag``."""
    found = DEFAULT.findall(_records(name)[flag])
    assert len(found) == 1, (name, flag, found)
    return found[0]


def _listed(values: tuple[float, ...]) -> str:
    return ",".join(f"{value:g}" for value in values)


def test_static_defaults_shown_are_the_ones_used() -> None:
    from sor.app.runs import BacktestOptions

    config = BacktestOptions().config(seed=None)
    assert _shown("backtest", "--order-size") == str(config.order_size)
    assert config.order_size == BacktestConfig.__dataclass_fields__["order_size"].default
    assert _shown("backtest", "--fee") == str(config.costs.default_fee)
    assert _shown("backtest", "--rebate") == str(config.costs.default_rebate)
    ck = BacktestOptions(model="ck").config(seed=None).grid
    assert ck == DEFAULT_CK_GRID
    for flag, name in (
        ("--lambda-over", "lambda_over"),
        ("--lambda-under", "lambda_under"),
        ("--theta-queue", "theta_queue"),
    ):
        expected = (
            f"{_listed(getattr(config.grid, name))}; --model ck: {_listed(getattr(ck, name))}"
        )
        assert _shown("backtest", flag) == expected
    hours = BacktestOptions().max_ts_distance_ns / (3600 * NANOS_PER_SECOND)
    assert _shown("backtest", "--max-ts-distance") == str(hours)
    assert _shown("produce", "--max-ts-distance") == str(hours)
    assert _shown("backtest", "--gap-timeout") == str(DEFAULT_GAP_TIMEOUT_S)
    minutes = DEFAULT_DURATION_NS / (60 * NANOS_PER_SECOND)
    assert (
        _shown("generate", "--end") == f"start + {minutes:g} min, or as long as the fitted window"
    )


def test_ck_defaults_shown_are_the_ones_used() -> None:
    ck = CKOptions.build()
    assert ck.horizons == DEFAULT_HORIZONS_S
    assert _shown("backtest", "--horizon") == _listed(ck.horizons)
    latency = ck.settings.latency
    assert float(_shown("backtest", "--latency-us")) * 1000 == latency.median_ns
    assert float(_shown("backtest", "--latency-sigma")) == latency.sigma
    assert int(_shown("backtest", "--latency-seed")) == latency.seed
    assert QUEUE_MODELS[_shown("backtest", "--queue-model")] == ck.settings.queue_model
    assert CROSSING_FILLS[_shown("backtest", "--crossing-fill")] == ck.settings.crossing_fill


def test_topic_and_broker_defaults_shown_are_the_ones_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SOR_KAFKA_TOPIC", raising=False)
    assert topic_name(None, FileConfig()) == DEFAULT_TOPIC
    for name in ("backtest", "produce", "replays"):
        assert _shown(name, "--topic") == DEFAULT_TOPIC
    assert _shown("produce", "--bootstrap") == "localhost:9092"
    assert _shown("replays", "--kafka") == "localhost:9092"


def test_version_flag_and_command_print_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--version"], ["version"]):
        outcome = run_main(args, capsys)
        assert (outcome.returncode, outcome.stdout, outcome.stderr) == (0, __version__ + "\n", "")
