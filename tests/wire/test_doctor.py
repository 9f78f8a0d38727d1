"""`ringbot doctor` against the AntBuddy simulator and the fake Slack over real HTTP / Socket.IO: all green when
everything is right, and a failing line that says what to fix when one thing is wrong."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.callback.links import Links
from bot.callback.vault import Vault
from bot.devtools.fakeslack import FakeSlack
from bot.ops.doctor import SUBSCRIBE_WAIT, run_doctor
from bot.outbox.notice import Notices
from storage import Store
from tests.conftest import make_settings
from tests.e2e.procs import free_port

SECRET_KEY = "kP0gG2v4QZ6q2y7b8y1u0hS3X5c4W6e8r0t2y4u6i8o="


# An accepted subscription is watched this long for a late refusal; the simulator refuses within milliseconds, and
# a refusal ends the wait at once, so the test that expects one keeps doctor's own wait (SUBSCRIBE_WAIT).
SHORT_SUBSCRIBE_WAIT = 0.2


async def doctor(
    tmp_path: Path, sim: Any, slack: FakeSlack, *, subscribe_wait: float = SHORT_SUBSCRIBE_WAIT, **overrides: str
) -> tuple[int, list[str]]:
    env = {
        "ANTBUDDY_API_URL": sim.url,
        "ANTBUDDY_WS_URL": sim.url,
        "SLACK_API_URL": slack.url,
        "RINGBOT_SECRET_KEY": SECRET_KEY,
        "RINGBOT_HTTP_HOST": "127.0.0.1",
        "RINGBOT_HTTP_PORT": str(free_port()),
        **overrides,
    }
    lines: list[str] = []
    code = await run_doctor(make_settings(tmp_path, **env), out=lines.append, subscribe_wait=subscribe_wait)
    return code, lines


def line_for(lines: list[str], name: str) -> str:
    found = [line for line in lines if line.split("] ", 1)[-1].startswith(name + ":")]
    assert len(found) == 1, f"no single '{name}' line in:\n" + "\n".join(lines)
    return found[0]


def failed(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("[FAIL]")]


async def test_good_settings_pass_every_check_and_exit_0(tmp_path: Path, simulator, fake_slack: FakeSlack) -> None:
    code, lines = await doctor(tmp_path, simulator, fake_slack)
    assert code == 0, "\n".join(lines)
    checks = lines[:-1]
    assert all(line.startswith("[ok  ] ") for line in checks), "\n".join(lines)
    for name in (
        "configuration",
        "AntBuddy token",
        "AntBuddy history",
        "AntBuddy dashboard",
        "event stream",
        "event subscription",
        "Slack auth.test",
        "Slack scopes",
        "Slack mode",
        "HTTP port",
        "database",
        "channel C0ALERTS",
        "secret key",
    ):
        line_for(lines, name)
    assert "socketio handshake ok" in line_for(lines, "event stream")
    assert lines[-1].startswith(f"{len(checks)} ok, 0 failed")
    assert any(c.method == "auth.test" for c in fake_slack.calls)


async def test_a_wrong_app_secret_fails_the_token_line_with_the_fix_and_exits_1(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    code, lines = await doctor(tmp_path, simulator, fake_slack, ANTBUDDY_APP_SECRET="not-the-secret")
    assert code == 1
    token = line_for(lines, "AntBuddy token")
    assert token.startswith("[FAIL]")
    assert "refused the app credentials" in token
    assert "fix: check ANTBUDDY_APP_ID and ANTBUDDY_APP_SECRET" in token
    assert all("not-the-secret" not in line for line in lines), "the doctor printed the secret"
    # the checks that need the same credentials say so instead of guessing at other causes
    assert "skipped: the app credentials were not accepted" in line_for(lines, "AntBuddy history")
    # Slack and the database are unaffected
    assert line_for(lines, "Slack auth.test").startswith("[ok  ]")
    assert line_for(lines, "database").startswith("[ok  ]")


async def test_missing_slack_scopes_are_named(tmp_path: Path, simulator) -> None:
    slack = FakeSlack(scopes="commands,chat:write")
    await slack.start()
    try:
        code, lines = await doctor(tmp_path, simulator, slack)
    finally:
        await slack.stop()
    assert code == 1
    scopes = line_for(lines, "Slack scopes")
    assert scopes.startswith("[FAIL]")
    for missing in ("chat:write.public", "channels:history", "groups:history", "users:read"):
        assert missing in scopes
    assert "missing chat:write," not in scopes and "commands" not in scopes.split("— fix")[0]
    assert "reinstall the app" in scopes
    assert failed(lines) == [scopes]


async def test_an_unwritable_database_path_fails_the_database_line(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")  # unwritable even for root
    code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_DB=str(blocker / "ringbot.db"))
    assert code == 1
    db = line_for(lines, "database")
    assert db.startswith("[FAIL]") and "fix: point RINGBOT_DB at a writable path" in db
    assert failed(lines) == [db]


async def test_no_secret_key_fails_that_line_with_the_command_that_makes_one(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_SECRET_KEY="")
    assert code == 1
    key = line_for(lines, "secret key")
    assert key.startswith("[FAIL]") and "RINGBOT_SECRET_KEY not set" in key
    assert "Fernet.generate_key()" in key
    assert failed(lines) == [key]


# A malformed RINGBOT_SECRET_KEY never reaches doctor: the configuration refuses it (tests/unit/test_config.py,
# tests/e2e/test_rotate_key.py).
OLD_KEY = "Xw3hQnQ0yJb8mZrS1cJ0pG7vVt2kL9eA5uN4fR6dT8o="


def seal_links(tmp_path: Path, key: str, *people: str) -> None:
    """Links stored while `key` was RINGBOT_SECRET_KEY, one per Slack user."""
    store = Store.open(tmp_path / "ringbot.db")
    try:
        links = Links(store, Vault(key), Notices())
        for user in people:
            links.link(user, f"sip-{user.lower()}", f"pw-{user}", by=user, is_admin=False)
    finally:
        store.close()


async def test_doctor_counts_the_stored_passwords_that_still_need_the_old_key(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    seal_links(tmp_path, OLD_KEY, "U0AN", "U0BINH")
    seal_links(tmp_path, SECRET_KEY, "U0CHI")
    code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_SECRET_KEY_OLD=OLD_KEY)
    assert code == 0, "\n".join(lines)
    key = line_for(lines, "secret key")
    assert "2 of 3 stored SIP passwords still need RINGBOT_SECRET_KEY_OLD: run `ringbot rotate-key`" in key


async def test_doctor_says_the_old_key_can_go_once_nothing_needs_it(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    seal_links(tmp_path, SECRET_KEY, "U0AN", "U0BINH")
    code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_SECRET_KEY_OLD=OLD_KEY)
    assert code == 0, "\n".join(lines)
    key = line_for(lines, "secret key")
    assert key.startswith("[ok  ]") and "nothing needs RINGBOT_SECRET_KEY_OLD any more, you can remove it" in key
    code, lines = await doctor(tmp_path, simulator, fake_slack)
    assert "you can remove it" not in line_for(lines, "secret key")


async def test_doctor_names_whose_password_no_key_opens_and_fails(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    seal_links(tmp_path, OLD_KEY, "U0AN", "U0DUC")
    code, lines = await doctor(tmp_path, simulator, fake_slack)  # the old key was dropped before rotating
    assert code == 1
    key = line_for(lines, "secret key")
    assert failed(lines) == [key]
    assert "RINGBOT_SECRET_KEY does not open 2 of 2 stored SIP passwords" in key and "U0AN, U0DUC" in key
    assert "RINGBOT_SECRET_KEY_OLD" in key and "ringbot rotate-key" in key
    assert "pw-U0AN" not in "\n".join(lines)


async def test_a_forced_protocol_the_server_does_not_speak_fails_the_stream_line(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    code, lines = await doctor(tmp_path, simulator, fake_slack, ANTBUDDY_WS_PROTOCOL="kazoo")
    assert code == 1
    stream = line_for(lines, "event stream")
    assert stream.startswith("[FAIL]") and "server speaks socketio" in stream
    assert "ANTBUDDY_WS_PROTOCOL=auto or socketio" in stream


async def test_an_unreachable_antbuddy_fails_fast_with_the_url(tmp_path: Path, fake_slack: FakeSlack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    lines: list[str] = []
    settings = make_settings(
        tmp_path,
        ANTBUDDY_API_URL=dead,
        ANTBUDDY_WS_URL=dead,
        SLACK_API_URL=fake_slack.url,
        RINGBOT_SECRET_KEY=SECRET_KEY,
    )
    code = await run_doctor(settings, out=lines.append)
    assert code == 1
    token = line_for(lines, "AntBuddy token")
    assert token.startswith("[FAIL]") and dead in token and "ANTBUDDY_API_URL" in token
    assert line_for(lines, "event stream").startswith("[FAIL]")
    assert line_for(lines, "Slack auth.test").startswith("[ok  ]")


async def test_a_wrong_account_id_fails_the_subscription_line(tmp_path: Path, simulator, fake_slack: FakeSlack) -> None:
    code, lines = await doctor(
        tmp_path, simulator, fake_slack, subscribe_wait=SUBSCRIBE_WAIT, ANTBUDDY_ACCOUNT_ID="someone-elses-account"
    )
    assert code == 1
    sub = line_for(lines, "event subscription")
    assert sub.startswith("[FAIL]") and "ANTBUDDY_ACCOUNT_ID" in sub
    assert line_for(lines, "AntBuddy token").startswith("[ok  ]")


# -- what breaks later: the port, the database directory, the alert channels -- and doctor changes nothing ---------


async def test_an_unreachable_antbuddy_skips_what_needs_it_saying_so_and_logs_nothing(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    caplog.set_level(logging.DEBUG)
    code, lines = await doctor(tmp_path, type("Sim", (), {"url": dead})(), fake_slack)
    assert code == 1
    for name in ("AntBuddy history", "AntBuddy dashboard", "event subscription"):
        line = line_for(lines, name)
        assert line.startswith("[skip]") and "skipped: AntBuddy unreachable" in line, line
        assert "credentials" not in line
    assert lines[-1].split(" (")[0].endswith("3 skipped")
    assert all(line.startswith(("[ok  ]", "[FAIL]", "[skip]")) for line in lines[:-1]), "\n".join(lines)
    assert all("\n" not in line for line in lines)
    assert caplog.records == [], "doctor's output is its check lines only"
    assert logging.root.manager.disable == logging.NOTSET, "logging is back on after doctor"


async def test_a_port_another_program_holds_fails_the_http_port_line(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_HTTP_PORT=str(port))
    assert code == 1
    line = line_for(lines, "HTTP port")
    assert line.startswith("[FAIL]") and f"port {port} is in use by another program" in line
    assert "RINGBOT_HTTP_PORT" in line
    assert failed(lines) == [line]


async def test_a_port_held_by_a_running_ringbot_is_fine(tmp_path: Path, simulator, fake_slack: FakeSlack) -> None:
    async def healthz(_: web.Request) -> web.Response:  # the document a running ringbot serves
        return web.json_response({"status": "ok", "stream": {"connected": True}, "outbox_depth": 0})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_HTTP_PORT=str(port))
    finally:
        await runner.cleanup()
    assert code == 0, "\n".join(lines)
    assert "held by a running ringbot" in line_for(lines, "HTTP port")


async def test_a_missing_database_directory_fails_and_doctor_creates_nothing(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    folder = tmp_path / "no" / "such"
    code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_DB=str(folder / "ringbot.db"))
    assert code == 1
    db = line_for(lines, "database")
    assert db.startswith("[FAIL]") and f"directory {folder} does not exist" in db and "mkdir -p" in db
    assert failed(lines) == [db]
    assert not (tmp_path / "no").exists(), "doctor created the directory"


async def test_a_database_not_created_yet_passes_and_stays_uncreated(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    path = tmp_path / "fresh.db"
    code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_DB=str(path))
    assert code == 0, "\n".join(lines)
    assert "does not exist yet" in line_for(lines, "database")
    assert not path.exists(), "doctor created the database"


async def test_an_existing_database_is_only_read_and_its_routes_are_checked(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    path = tmp_path / "ringbot.db"
    store = Store.open(path)
    store.set_route("queue:q1", "C0ROUTED")
    store.close()
    before = path.read_bytes()
    fake_slack.set_channel("C0ROUTED", member=False)
    code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_DB=str(path))
    assert code == 1
    assert "readable and writable (journal wal)" in line_for(lines, "database")
    routed = line_for(lines, "channel C0ROUTED")
    assert routed.startswith("[FAIL]") and "has not joined" in routed and "a route in the database" in routed
    assert "join it: /invite @ringbot" in routed
    assert failed(lines) == [routed]
    assert path.read_bytes() == before, "doctor wrote to the database"
    assert not fake_slack.calls_to("chat.postMessage"), "doctor posted to Slack"


async def test_alert_channels_the_bot_cannot_use_fail_each_with_its_fix(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    fake_slack.set_channel("C0ALERTS", private=True, member=False)
    fake_slack.set_channel("C0GONE", exists=False)
    fake_slack.set_channel("C0FINE", private=True, member=True)
    routes = tmp_path / "routes.json"
    routes.write_text(json.dumps({"queues": {"q1": "C0GONE", "q2": "C0FINE"}}))
    code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_ROUTES_FILE=str(routes))
    assert code == 1
    default = line_for(lines, "channel C0ALERTS")
    assert default.startswith("[FAIL]") and "RINGBOT_ALERT_CHANNEL" in default and "/invite @ringbot" in default
    gone = line_for(lines, "channel C0GONE")
    assert gone.startswith("[FAIL]") and "RINGBOT_ROUTES_FILE" in gone and "check the id" in gone
    assert line_for(lines, "channel C0FINE").startswith("[ok  ]")
    assert sorted(failed(lines)) == sorted([default, gone])


async def test_a_refused_slack_token_skips_the_channel_checks(tmp_path: Path, simulator, fake_slack: FakeSlack) -> None:
    fake_slack.fail("auth.test", status=200, error="invalid_auth")  # a revoked token
    code, lines = await doctor(tmp_path, simulator, fake_slack)
    assert code == 1
    assert line_for(lines, "Slack auth.test").startswith("[FAIL]")
    assert line_for(lines, "alert channels") == "[skip] alert channels: skipped: Slack auth.test failed"


async def test_doctor_says_whether_the_digest_uploads_a_chart_or_draws_text_bars(tmp_path: Path, simulator) -> None:
    """Without files:write (or without matplotlib) the digest draws text bars; doctor says so, and why."""
    from bot.queues.chart import charts_available

    slack = FakeSlack(
        scopes="commands,chat:write,chat:write.public,users:read,channels:history,groups:history,im:write"
    )
    await slack.start()
    try:
        code, lines = await doctor(tmp_path, simulator, slack)
        _, off = await doctor(tmp_path, simulator, slack, RINGBOT_DIGEST_AT="off")
    finally:
        await slack.stop()
    chart = line_for(lines, "digest chart")
    assert code == 0 and chart.startswith("[ok  ]")  # not a failure: the bars say the same thing
    assert "daily digest at 18:00 draws text bars" in chart
    assert ("files:write" if charts_available() else "matplotlib is not installed") in chart
    assert "the daily digest is off" in line_for(off, "digest chart")
