"""Where each setting comes from: a flag beats its SOR_ variable, which beats the TOML file
(sor.app.settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import run_main
from sor.app.settings import ENVIRONMENT, FileConfig, KafkaSettings, config_path

QUIET = ["--no-plot", "--quiet"]
_FILE = FileConfig.model_validate(
    {"kafka": {"bootstrap": "file:9092", "topic": "file_topic", "client": {"acks": "all"}}}
)


@pytest.mark.parametrize(
    ("setting", "flag", "variable"),
    [("bootstrap", "flag:9092", "SOR_KAFKA_BOOTSTRAP"), ("topic", "flag_topic", "SOR_KAFKA_TOPIC")],
)
def test_a_flag_beats_its_variable_which_beats_the_file(
    setting: str, flag: str, variable: str
) -> None:
    environ = {variable: f"env_{setting}"}
    with_flag = KafkaSettings.resolve(_FILE, environ=environ, **{setting: flag})
    assert getattr(with_flag, setting) == flag
    from_variable = KafkaSettings.resolve(_FILE, environ=environ)
    assert getattr(from_variable, setting) == f"env_{setting}"
    from_file = KafkaSettings.resolve(_FILE, environ={})
    assert getattr(from_file, setting) == getattr(_FILE.kafka, setting)
    # an empty text is not given: a unit may pass --topic "$SOR_KAFKA_TOPIC" with it unset
    empty = KafkaSettings.resolve(_FILE, environ={variable: ""}, **{setting: ""})
    assert getattr(empty, setting) == getattr(_FILE.kafka, setting)
    assert from_file.client == {"acks": "all"}


def test_without_any_source_the_topic_takes_its_default() -> None:
    resolved = KafkaSettings.resolve(FileConfig(), environ={})
    assert (resolved.bootstrap, resolved.topic) == (None, "mock_l1_stream")


def test_the_config_flag_beats_sor_config() -> None:
    assert config_path(Path("flag.toml"), {"SOR_CONFIG": "env.toml"}) == Path("flag.toml")
    assert config_path(None, {"SOR_CONFIG": "env.toml"}) == Path("env.toml")
    assert config_path(None, {}) is None


def test_every_variable_read_is_documented() -> None:
    import sor.app.settings

    text = sor.app.settings.__doc__ or ""
    for variable in ENVIRONMENT:
        assert f"    {variable} " in text, variable


def test_a_run_takes_the_flag_then_sor_config_then_no_file(
    tiny_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from_variable = tmp_path / "env.toml"
    from_variable.write_text("[order]\nsize = 200\n")
    from_flag = tmp_path / "flag.toml"
    from_flag.write_text("[order]\nsize = 300\n")
    out = tmp_path / "o.json"
    args = ["backtest", "--data", str(tiny_csv), *QUIET, "--json-out", str(out)]
    args += ["--lambda-over", "0.4", "--lambda-under", "0.4", "--theta-queue", "0.4"]

    def order_size(*extra: str) -> int:
        outcome = run_main([*args, *extra], capsys)
        assert outcome.returncode == 0, outcome.stderr
        return int(json.loads(out.read_text())["run"]["order_size"])

    monkeypatch.setenv("SOR_CONFIG", str(from_variable))
    assert order_size("--order-size", "100") == 100  # the flag beats every file
    assert order_size("--config", str(from_flag)) == 300  # --config beats SOR_CONFIG
    assert order_size() == 200
    monkeypatch.delenv("SOR_CONFIG")
    assert order_size() == 5000  # no file: the default
