"""The command-line contract: JSON alone on stdout, clear errors, help on every command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_run import REPO
from cli_run import sor as _sor
from sor.cli import app

GRID = ["--lambda-over", "0.1,0.5", "--lambda-under", "0.2", "--theta-queue", "0.3"]


def test_backtest_prints_only_json_and_writes_files(tiny_csv: Path, tmp_path: Path) -> None:
    done = _sor("backtest", "--data", str(tiny_csv), "--order-size", "1000", *GRID, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # nothing but the object on stdout
    assert set(report) >= {"best_parameters", "optimized", "baselines", "savings_vs_baselines_bps"}
    assert set(report["baselines"]) == {"best_ask", "twap", "vwap"}
    assert (tmp_path / "output.json").read_text() == done.stdout
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _sor(
        "backtest",
        "--data",
        str(tiny_csv),
        "--order-size",
        "1000",
        *GRID,
        "--no-plot",
        "--json-out",
        "again.json",
        cwd=tmp_path,
    )
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "output.json").read_bytes()


@pytest.mark.parametrize("flag", ["--from-file", "--dry-run"])
def test_classic_script_runs_from_the_repository_root(
    tiny_csv: Path, tmp_path: Path, flag: str
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "backtest.py"),
            flag,
            "--data",
            str(tiny_csv),
            "--order-size",
            "1000",
            *GRID,
            "--no-plot",
            "--json-out",
            str(tmp_path / "o.json"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["optimized"]["total_fill"] == 1000
    # --dry-run prints the messages in kafka_producer.py: here it is the old --from-file
    deprecated = "sor: warning: backtest.py --dry-run is deprecated; use --from-file"
    assert (deprecated in done.stderr) == (flag == "--dry-run")


def test_producer_dry_run_prints_messages(tiny_csv: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "kafka_producer.py"), "--dry-run", "--data", str(tiny_csv)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    messages = [json.loads(line) for line in done.stdout.splitlines()]
    assert [m["type"] for m in messages] == ["start"] + ["snapshot"] * 5 + ["end"]
    assert len({m["replay"] for m in messages}) == 1
    assert [m["seq"] for m in messages[1:-1]] == list(range(5))
    assert messages[1]["ask_px"] == "10" and messages[2]["ask_px"] == "10.01"
    assert messages[-1]["count"] == 5 and len(messages[-1]["checksum"]) == 16


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "absent.csv"], "no such data file"),
        (["--order-size", "150"], "positive multiple of 100"),
        (["--order-size", "0"], "positive multiple of 100"),
        (["--start", "2030-01-01T00:00:00Z"], "no rows"),
        (["--start", "not-a-time"], "invalid timestamp"),
        (["--lambda-over", "a,b"], "comma-separated numbers"),
    ],
)
def test_bad_input_gives_a_message_not_a_traceback(
    tiny_csv: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    data = [] if "--data" in args else ["--data", str(tiny_csv)]
    result = CliRunner().invoke(app, ["backtest", *data, *args, "--no-plot", "--quiet"])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_unknown_venue_in_config_is_rejected(tiny_csv: Path, tmp_path: Path) -> None:
    config = tmp_path / "sor.toml"
    config.write_text("[costs.venues.XNYS]\nfee = 0.001\n[costs.venues.4242]\nfee = 0.001\n")
    result = CliRunner().invoke(
        app, ["backtest", "--data", str(tiny_csv), "--config", str(config), "--no-plot", "-q"]
    )
    assert result.exit_code == 2
    assert "unknown venue" in result.output and "4242" in result.output
    config.write_text("[costs.venues.NOWHERE]\nfee = 0.001\n")
    result = CliRunner().invoke(
        app, ["backtest", "--data", str(tiny_csv), "--config", str(config), "--no-plot", "-q"]
    )
    assert result.exit_code == 2 and "NOWHERE" in result.output


def test_config_file_sets_fees_grid_and_order(tiny_csv: Path, tmp_path: Path) -> None:
    config = tmp_path / "sor.toml"
    config.write_text(
        "[order]\nsize = 1000\n[costs]\nfee = 0.0\n[costs.venues.2]\nfee = 0.01\n"
        "[search]\nlambda_over = [0.3]\nlambda_under = [0.3]\ntheta_queue = [0.3, 0.4]\n"
    )
    out = tmp_path / "o.json"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--data",
            str(tiny_csv),
            "--config",
            str(config),
            "--no-plot",
            "--json-out",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["search"]["parameter_sets"] == 2
    assert report["run"]["order_size"] == 1000
    assert report["run"]["venues"]["2"] == {"fee": 0.01, "rebate": 0.002}
    assert report["run"]["venues"]["5"]["fee"] == 0.0


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for command in ("generate", "backtest", "produce", "demo"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.output or command == "demo"


def test_fee_flag_wins_over_every_venue_of_the_config(tiny_csv: Path, tmp_path: Path) -> None:
    config = tmp_path / "sor.toml"
    config.write_text("[costs.venues.2]\nfee = 0.01\nrebate = 0.001\n")
    out = tmp_path / "o.json"
    args = ["backtest", "--data", str(tiny_csv), "--config", str(config), "--no-plot", "-q"]
    result = CliRunner().invoke(app, [*args, "--fee", "0.001", "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    venues = json.loads(out.read_text())["run"]["venues"]
    assert venues["2"] == {"fee": 0.001, "rebate": 0.001}  # the file's rebate still applies
    assert venues["5"]["fee"] == 0.001
