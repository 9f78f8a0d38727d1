"""The `ringbot` command line as an operator meets it: help, configuration errors (exit 2, one line naming the
variable), a bad --since, and the standalone simulator that answers REST and stops on a signal."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.procs import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("run", "demo", "simulator", "doctor", "backfill", "digest", "requeue", "purge", "rotate-key")
REQUIRED = ("ANTBUDDY_APP_ID", "ANTBUDDY_APP_SECRET", "ANTBUDDY_ACCOUNT_ID", "SLACK_BOT_TOKEN", "RINGBOT_ALERT_CHANNEL")
GOOD = {  # every required variable, valid; nothing here is ever contacted
    "ANTBUDDY_APP_ID": "cli-app",
    "ANTBUDDY_APP_SECRET": "cli-secret",
    "ANTBUDDY_ACCOUNT_ID": "cli-account",
    "SLACK_BOT_TOKEN": "xoxb-cli",
    "RINGBOT_ALERT_CHANNEL": "C0ALERTS",
}


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Only what Python needs: no developer tokens, no ringbot variables unless given."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "SKIP_SLACK_SDK_WARNING": "1",
        "TMPDIR": str(tmp_path),
    }
    env.update(extra)
    return env


def ringbot(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 20.0, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    cwd = cwd or tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=env or clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


def test_help_lists_every_command(tmp_path: Path) -> None:
    proc = ringbot(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    for command in COMMANDS:
        assert f"    {command}" in proc.stdout, f"{command} missing from --help:\n{proc.stdout}"
    installed = Path(sys.executable).parent / "ringbot"  # `pip install .` puts the entry point beside python
    if installed.exists():
        entry = subprocess.run(
            [str(installed), "--help"],
            cwd=tmp_path,
            env=clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert entry.returncode == 0 and entry.stdout == proc.stdout


def test_no_command_prints_help_and_exits_0(tmp_path: Path) -> None:
    proc = ringbot(tmp_path)
    assert proc.returncode == 0
    assert "backfill" in proc.stdout


@pytest.mark.parametrize("missing", REQUIRED)
def test_a_missing_required_variable_exits_2_with_one_line_naming_it(tmp_path: Path, missing: str) -> None:
    env = clean_env(tmp_path, **{k: v for k, v in GOOD.items() if k != missing})
    proc = ringbot(tmp_path, "run", env=env)
    assert proc.returncode == 2, proc.stderr
    lines = error_lines(proc)
    assert len(lines) == 1, proc.stderr
    assert missing in lines[0] and "not set" in lines[0]
    assert "cli-secret" not in proc.stderr + proc.stdout


def test_nothing_configured_names_every_missing_variable_at_once(tmp_path: Path) -> None:
    proc = ringbot(tmp_path, "doctor")
    assert proc.returncode == 2
    (line,) = error_lines(proc)
    assert line.startswith("ringbot: configuration error: " + ", ".join(REQUIRED) + " are not set (required)")


def test_a_malformed_port_exits_2_naming_the_variable(tmp_path: Path) -> None:
    proc = ringbot(tmp_path, "run", env=clean_env(tmp_path, **GOOD, RINGBOT_HTTP_PORT="abc"))
    assert proc.returncode == 2
    lines = error_lines(proc)
    assert len(lines) == 1 and "RINGBOT_HTTP_PORT" in lines[0] and "'abc'" in lines[0], proc.stderr


def test_a_wrong_kind_of_slack_token_exits_2_without_showing_it(tmp_path: Path) -> None:
    env = clean_env(tmp_path, **{**GOOD, "SLACK_BOT_TOKEN": "xoxp-user-token-do-not-print"})
    proc = ringbot(tmp_path, "run", env=env)
    assert proc.returncode == 2
    lines = error_lines(proc)
    assert len(lines) == 1 and "SLACK_BOT_TOKEN" in lines[0]
    assert "do-not-print" not in proc.stderr


def test_http_mode_without_a_signing_secret_exits_2(tmp_path: Path) -> None:
    proc = ringbot(tmp_path, "run", "--mode", "http", env=clean_env(tmp_path, **GOOD))
    assert proc.returncode == 2
    assert "SLACK_SIGNING_SECRET" in proc.stderr


def test_dotenv_in_the_working_directory_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / ".env").write_text("".join(f"{k}={v}\n" for k, v in GOOD.items()) + "RINGBOT_HTTP_PORT=abc\n")
    from_file = ringbot(tmp_path, "backfill", "--since", "2024-01-01", cwd=cwd)
    assert from_file.returncode == 2 and "RINGBOT_HTTP_PORT" in from_file.stderr, from_file.stderr
    # the environment overrides the file's bad port; then only the bad date is left to complain about
    overridden = ringbot(
        tmp_path, "backfill", "--since", "2024-13-99", cwd=cwd, env=clean_env(tmp_path, RINGBOT_HTTP_PORT="3001")
    )
    assert overridden.returncode == 2
    assert "RINGBOT_HTTP_PORT" not in overridden.stderr and "--since" in overridden.stderr


def test_backfill_with_an_impossible_date_exits_2_with_a_clear_line(tmp_path: Path) -> None:
    proc = ringbot(tmp_path, "backfill", "--since", "2024-13-99", env=clean_env(tmp_path, **GOOD))
    assert proc.returncode == 2
    lines = error_lines(proc)
    assert lines == ["ringbot: --since must be YYYY-MM-DD, got '2024-13-99'"], proc.stderr
    assert not list((tmp_path / "cwd").iterdir()), "a rejected backfill must not create the database"


def test_backfill_without_since_is_a_usage_error(tmp_path: Path) -> None:
    proc = ringbot(tmp_path, "backfill", env=clean_env(tmp_path, **GOOD))
    assert proc.returncode == 2
    assert "--since" in proc.stderr


# -- the standalone simulator --------------------------------------------------------------------------
def start_simulator(tmp_path: Path, port: int, **env: str) -> subprocess.Popen:
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "simulator", "--port", str(port)],
        cwd=cwd,
        env=clean_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_listening(proc: subprocess.Popen, url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"simulator exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            httpx.get(url + "/_sim/state", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"simulator not listening on {url} within {timeout} s")


def auth_token(url: str, app_id: str, secret: str) -> httpx.Response:
    digest = hashlib.sha256((app_id + secret).encode()).hexdigest()
    return httpx.post(
        url + "/oapi/v1/voice/auth_token", headers={"x-auth-app-id": app_id, "x-auth-app-hash": digest}, timeout=5
    )


def stop(proc: subprocess.Popen, sig: int, timeout: float = 10.0) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"simulator ignored signal {sig} for {timeout} s") from None


def test_simulator_uses_the_bots_credentials_answers_auth_token_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_simulator(tmp_path, port, ANTBUDDY_APP_ID="my-app", ANTBUDDY_APP_SECRET="my-secret")
    try:
        wait_listening(proc, url)
        good = auth_token(url, "my-app", "my-secret")
        assert good.status_code == 200, good.text
        assert len(good.json()["value"]) == 32
        assert auth_token(url, "my-app", "demo-secret").status_code == 401
        assert stop(proc, signal.SIGINT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert f"AntBuddy simulator on {url}" in proc.stdout.read()
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/_sim/state", timeout=1)


def test_simulator_defaults_to_demo_credentials_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_simulator(tmp_path, port)
    try:
        wait_listening(proc, url)
        assert auth_token(url, "demo-app", "demo-secret").status_code == 200
        assert stop(proc, signal.SIGTERM) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/_sim/state", timeout=1)


# -- the .env template ---------------------------------------------------------------------------------
def test_env_example_names_every_setting_and_loads_once_the_required_ones_are_filled(tmp_path: Path) -> None:
    from bot.config import _ENV, load_settings, read_dotenv

    template = REPO / "deploy" / "env.example"
    values = read_dotenv(template)
    assert set(values) == set(_ENV), (
        f"env.example drifted: missing {set(_ENV) - set(values)}, unknown {set(values) - set(_ENV)}"
    )
    assert not any(values[k] for k in REQUIRED), "the template must not carry real-looking required values"
    filled = tmp_path / ".env"
    filled.write_text(template.read_text() + "".join(f"{k}={v}\n" for k, v in GOOD.items()))
    settings = load_settings({}, dotenv=filled)
    assert settings.antbuddy_app_id == "cli-app" and settings.http_port == 3000 and not settings.socket_mode


# -- requeue and the routes file -------------------------------------------------------------------------
def test_requeue_gives_dead_letters_another_go_and_says_how_many(tmp_path: Path) -> None:
    from storage import Store

    db = tmp_path / "ringbot.db"
    store = Store.open(db)
    for channel in ("C0GONE", "C0GONE", "C0OTHER"):
        row = store.enqueue("post", channel, alert_id=1)
        store.mark_outbox(row, "dead", error="channel_not_found")
    store.close()
    env = clean_env(tmp_path, **GOOD, RINGBOT_DB=str(db))
    proc = ringbot(tmp_path, "requeue", "--channel", "C0GONE", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("2 Slack message(s) queued again")
    store = Store.open(db)
    try:
        assert store.outbox_counts() == {"pending": 2, "dead": 1}
        assert all(r["attempts"] >= 1 for r in store.pending_outbox())  # so each is looked up in Slack first
    finally:
        store.close()


def _old_database(db: Path) -> None:
    """A database as ringbot made it before retention (no incremental vacuum), with two years of calls."""
    import sqlite3

    from storage import Store

    sqlite3.connect(db).execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)").connection.close()
    store = Store.open(db)
    day = 86400.0
    now = time.time()
    with store.transaction():
        for n in range(2000):
            at = now - (n % 730) * day
            store.insert_call(
                {"call_id": f"call-{n}", "direction": "inbound", "outcome": "answered", "started_at": at}
                | {"detail": {"note": "x" * 500}}
            )
            store.conn.execute("INSERT INTO audit(at, action, result) VALUES (?, 'link', 'ok')", (at,))
    store.close()


def test_purge_deletes_what_is_older_than_the_date_says_what_per_table_and_shrinks_an_old_file(
    tmp_path: Path,
) -> None:
    from storage import Store

    db = tmp_path / "ringbot.db"
    _old_database(db)
    size = db.stat().st_size
    cut = time.strftime("%Y-%m-%d", time.localtime(time.time() - 365 * 86400))
    env = clean_env(tmp_path, **GOOD, RINGBOT_DB=str(db), RINGBOT_TIMEZONE="UTC")
    proc = ringbot(tmp_path, "purge", "--before", cut, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"purge before {cut} (UTC):"
    removed = {w[0]: int(w[1]) for w in (line.split() for line in lines[1:]) if len(w) == 3 and w[2] == "removed"}
    store = Store.open(db)
    try:
        kept = store.conn.execute("SELECT count(*) FROM calls").fetchone()[0]
        assert removed["calls"] == 2000 - kept and 900 < removed["calls"] < 1100
        assert removed["audit"] == removed["calls"] and removed["total"] == 2 * removed["calls"]
        assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental from now on
    finally:
        store.close()
    assert "rewritten once (VACUUM)" in proc.stdout
    assert db.stat().st_size < size * 0.7


@pytest.mark.parametrize(
    ("before", "says"),
    [("2024-13-01", "--before must be YYYY-MM-DD"), ("2999-01-01", "--before 2999-01-01 is in the future")],
)
def test_purge_refuses_a_date_it_cannot_read_or_one_in_the_future_with_one_line(
    tmp_path: Path, before: str, says: str
) -> None:
    env = clean_env(tmp_path, **GOOD, RINGBOT_DB=str(tmp_path / "ringbot.db"))
    proc = ringbot(tmp_path, "purge", "--before", before, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and says in proc.stderr


def test_a_malformed_routes_file_stops_run_with_exit_2_naming_it(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yml"
    routes.write_text("queues: [not, a, mapping]\n")
    env = clean_env(
        tmp_path, **GOOD, SLACK_SIGNING_SECRET="s", RINGBOT_ROUTES_FILE=str(routes), RINGBOT_DB=str(tmp_path / "r.db")
    )
    proc = ringbot(tmp_path, "run", "--mode", "http", env=env)
    assert proc.returncode == 2
    assert len(error_lines(proc)) == 1 and "RINGBOT_ROUTES_FILE" in proc.stderr and "Traceback" not in proc.stderr
