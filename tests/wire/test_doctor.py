"""`ringbot doctor` against the AntBuddy simulator and the fake Slack over real HTTP / Socket.IO: all green when
everything is right, and a failing line that says what to fix when one thing is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.devtools.fakeslack import FakeSlack
from bot.ops.doctor import run_doctor
from tests.conftest import make_settings

SECRET_KEY = "kP0gG2v4QZ6q2y7b8y1u0hS3X5c4W6e8r0t2y4u6i8o="


async def doctor(tmp_path: Path, sim: Any, slack: FakeSlack, **overrides: str) -> tuple[int, list[str]]:
    env = {
        "ANTBUDDY_API_URL": sim.url,
        "ANTBUDDY_WS_URL": sim.url,
        "SLACK_API_URL": slack.url,
        "RINGBOT_SECRET_KEY": SECRET_KEY,
        **overrides,
    }
    lines: list[str] = []
    code = await run_doctor(make_settings(tmp_path, **env), out=lines.append)
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
        "database",
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


async def test_a_malformed_secret_key_fails_that_line(tmp_path: Path, simulator, fake_slack: FakeSlack) -> None:
    code, lines = await doctor(tmp_path, simulator, fake_slack, RINGBOT_SECRET_KEY="too-short")
    assert code == 1
    assert failed(lines) == [line_for(lines, "secret key")]
    assert "too-short" not in "\n".join(lines)


async def test_a_forced_protocol_the_server_does_not_speak_fails_the_stream_line(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    code, lines = await doctor(tmp_path, simulator, fake_slack, ANTBUDDY_WS_PROTOCOL="kazoo")
    assert code == 1
    stream = line_for(lines, "event stream")
    assert stream.startswith("[FAIL]") and "server speaks socketio" in stream
    assert "ANTBUDDY_WS_PROTOCOL=auto or socketio" in stream


async def test_an_unreachable_antbuddy_fails_fast_with_the_url(tmp_path: Path, fake_slack: FakeSlack) -> None:
    from tests.e2e.procs import free_port

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
    code, lines = await doctor(tmp_path, simulator, fake_slack, ANTBUDDY_ACCOUNT_ID="someone-elses-account")
    assert code == 1
    sub = line_for(lines, "event subscription")
    assert sub.startswith("[FAIL]") and "ANTBUDDY_ACCOUNT_ID" in sub
    assert line_for(lines, "AntBuddy token").startswith("[ok  ]")
