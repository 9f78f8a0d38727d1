"""The usual mistakes an operator makes, each met with one line on stderr and exit 2, never a traceback:
a port in use, a database path that cannot work, a simulator told to listen where it cannot, settings missing."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_cli import GOOD, REQUIRED, clean_env, error_lines, ringbot

pytestmark = pytest.mark.slow

ROOT = os.geteuid() == 0  # root writes through any permission bits: those mistakes cannot happen to it


def one_line(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = error_lines(proc)
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def run_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(tmp_path, **{**GOOD, "SLACK_SIGNING_SECRET": "s" * 32, "RINGBOT_HTTP_HOST": "127.0.0.1", **extra})


def test_every_missing_setting_is_named_in_one_line_and_a_missing_env_file_is_said(tmp_path: Path) -> None:
    line = one_line(ringbot(tmp_path, "run"), *REQUIRED)
    assert line.startswith("ringbot: configuration error: ") and "are not set (required)" in line
    assert "no .env file in" in line


def test_a_channel_name_for_the_alert_channel_stops_run_saying_how_to_find_the_id(tmp_path: Path) -> None:
    proc = ringbot(tmp_path, "run", env=run_env(tmp_path, RINGBOT_ALERT_CHANNEL="#general"))
    line = one_line(proc, "RINGBOT_ALERT_CHANNEL must be a channel id like C0123ABCD, got '#general'")
    assert "Channel ID" in line and "About tab" in line
    assert not (tmp_path / "cwd" / "ringbot.db").exists(), "nothing was started"


def test_an_http_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = ringbot(tmp_path, "run", "--mode", "http", env=run_env(tmp_path, RINGBOT_HTTP_PORT=str(port)))
    one_line(proc, f"RINGBOT_HTTP_PORT {port} is already in use")


def test_an_http_port_out_of_range_names_the_range(tmp_path: Path) -> None:
    one_line(ringbot(tmp_path, "run", env=run_env(tmp_path, RINGBOT_HTTP_PORT="70000")), "between 0 and 65535")


@pytest.mark.parametrize(
    ("where", "needle"),
    [
        ("missing/dir/ringbot.db", "does not exist"),
        ("a-directory", "points at a directory"),
    ],
)
def test_a_database_path_that_cannot_work(tmp_path: Path, where: str, needle: str) -> None:
    (tmp_path / "a-directory").mkdir()
    for command in ("run", "requeue"):
        proc = ringbot(tmp_path, command, env=run_env(tmp_path, RINGBOT_DB=str(tmp_path / where)))
        one_line(proc, "RINGBOT_DB", needle)
    assert not (tmp_path / "missing").exists(), "nothing is created on the way"


@pytest.mark.skipif(ROOT, reason="root ignores permission bits")
def test_an_unwritable_database_directory_or_file(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    readonly = tmp_path / "ro.db"
    readonly.write_bytes(b"")
    readonly.chmod(0o400)
    try:
        one_line(ringbot(tmp_path, "run", env=run_env(tmp_path, RINGBOT_DB=str(locked / "r.db"))), "not writable")
        one_line(ringbot(tmp_path, "requeue", env=run_env(tmp_path, RINGBOT_DB=str(readonly))), "read-only")
    finally:
        locked.chmod(0o700)


def test_a_simulator_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = ringbot(tmp_path, "simulator", "--port", str(port))
    one_line(proc, f"port {port} is already in use")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--port", "70000"], "between 0 and 65535"),
        (["--port", "eighty"], "whole number"),
        (["--host", "no-such-host.invalid", "--port", "0"], "cannot listen on --host 'no-such-host.invalid'"),
    ],
)
def test_a_simulator_told_to_listen_where_it_cannot(tmp_path: Path, args: list[str], needle: str) -> None:
    one_line(ringbot(tmp_path, "simulator", *args), needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["demo", "--seconds", "-5"], "--seconds: must be between 0"),
        (["requeue", "--channel", "#calls"], "--channel: must be a Slack channel id"),
    ],
)
def test_invalid_option_values_are_refused(tmp_path: Path, args: list[str], needle: str) -> None:
    one_line(ringbot(tmp_path, *args, env=run_env(tmp_path)), needle)


@pytest.mark.parametrize("command", ["run", "demo", "simulator", "doctor", "backfill", "requeue"])
def test_every_command_has_a_description_and_each_option_its_default(tmp_path: Path, command: str) -> None:
    proc = ringbot(tmp_path, command, "--help")
    assert proc.returncode == 0
    usage, description = proc.stdout.split("\n\n")[:2]
    assert usage.startswith("usage: ringbot") and len(description) > 20
    options = proc.stdout.split("options:", 1)[1]
    for line in [ln for ln in options.splitlines() if ln.strip().startswith("--")]:
        block = options[options.index(line) :].split("\n  -", 1)[0]
        assert "default" in block or "required" in block, block
