"""Rotating the secret key with the real `ringbot` process: people link their phones under the old key, `ringbot
rotate-key` re-seals every password, and Call back then rings every one of them with only the new key. A password
neither key opens is named and left (exit 2); a malformed key stops `ringbot run` with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.callback.links import Links
from bot.callback.vault import Vault, VaultError
from bot.devtools.fakeslack import FakeSlack, block_actions_body, sign, view_submission_body
from bot.outbox.notice import Notices
from bot.slack.ids import ACTION_CALLBACK, VIEW_LINK
from bot.slack.render.link import LinkForm
from storage import Store
from tests.conftest import SIGNING_SECRET
from tests.e2e.procs import RingbotProcess, ringbot_env
from tests.e2e.test_cli import GOOD, clean_env, error_lines, ringbot
from tests.support.waiting import eventually
from tests.wire.link_support import link_values

pytestmark = pytest.mark.slow

OLD_KEY = "the call centre's old passphrase"  # a passphrase: the scrypt stretch must survive the rotation too
NEW_KEY = Fernet.generate_key().decode()
PEOPLE = {  # Slack user -> (SIP user, SIP password, the number their alert calls back)
    "U0AN": ("sip_an_201", "an-pw-201", "0987654321"),
    "U0BINH": ("sip_binh_202", "binh-pw-202", "0987654322"),
    "U0CHI": ("sip_chi_203", "chi-pw-203", "0987654323"),
}


def rotate(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "rotate-key"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


async def post_signed(http: httpx.AsyncClient, proc: RingbotProcess, body: str) -> None:
    resp = await http.post(proc.url + "/slack/events", content=body, headers=sign(SIGNING_SECRET, body))
    assert resp.status_code == 200, resp.text


def stored_links(db: Path) -> dict[str, str]:
    store = Store.open(db)
    try:
        return {row["slack_user"]: row["sip_password_enc"] for row in store.links()}
    finally:
        store.close()


async def test_rotate_key_then_call_back_works_for_every_linked_person_with_only_the_new_key(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    db = tmp_path / "ringbot.db"
    env = ringbot_env(tmp_path, simulator.url, fake_slack.url, RINGBOT_SECRET_KEY=OLD_KEY)

    # 1. Everyone links their phone through the running bot while the old key is RINGBOT_SECRET_KEY.
    first = RingbotProcess(env, tmp_path)
    first.start()
    try:
        await first.wait_healthy()
        async with httpx.AsyncClient(timeout=10) as http:
            for user, (sip_user, password, _number) in PEOPLE.items():
                device = {"password": password, "online": True}
                assert (await http.put(f"{simulator.url}/_sim/devices/{sip_user}", json=device)).status_code == 200
                form = LinkForm(user, "C0ALERTS").dump()
                body = view_submission_body(
                    VIEW_LINK, link_values(sip_user, password), user_id=user, private_metadata=form
                )
                await post_signed(http, first, body)
        await eventually(lambda: set(stored_links(db)) == set(PEOPLE), "every link stored")
        assert first.terminate() == 0
    finally:
        first.ensure_stopped()
    for token in stored_links(db).values():  # the new key alone opens none of them yet
        with pytest.raises(VaultError):
            Vault(NEW_KEY).decrypt(token)

    # 2. `ringbot rotate-key` with the new key in RINGBOT_SECRET_KEY and the old one in RINGBOT_SECRET_KEY_OLD.
    done = rotate(tmp_path, {**env, "RINGBOT_SECRET_KEY": NEW_KEY, "RINGBOT_SECRET_KEY_OLD": OLD_KEY})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "3 SIP password(s) re-encrypted with RINGBOT_SECRET_KEY; 0 already were",
        "No stored SIP password needs RINGBOT_SECRET_KEY_OLD any more: remove it and restart ringbot.",
    ]
    output = done.stdout + done.stderr
    for secret in (OLD_KEY, NEW_KEY, *(password for _sip, password, _n in PEOPLE.values())):
        assert secret not in output

    # 3. The old key dropped: every linked person's Call back rings their own phone with the right password.
    store = Store.open(db)
    alerts = {}
    for n, (user, (_sip, _pw, number)) in enumerate(PEOPLE.items()):
        alerts[user] = store.create_alert(
            {
                "call_id": f"call-{user}",
                "customer_number": number,
                "customer_key": number,
                "outcome": "missed",
                "channel": "C0ALERTS",
                "ts": f"1700000000.00010{n}",
            }
        )
    store.close()
    second = RingbotProcess({**env, "RINGBOT_SECRET_KEY": NEW_KEY}, tmp_path)
    second.start()
    try:
        await second.wait_healthy()
        async with httpx.AsyncClient(timeout=10) as http:
            for n, (user, alert_id) in enumerate(alerts.items()):
                body = block_actions_body(
                    ACTION_CALLBACK,
                    str(alert_id),
                    user_id=user,
                    channel_id="C0ALERTS",
                    message_ts=f"1700000000.00010{n}",
                    response_url=fake_slack.response_url(user),
                )
                await post_signed(http, second, body)

            async def every_click() -> list[dict] | None:
                clicks = (await http.get(f"{simulator.url}/_sim/state")).json()["clicks"]
                return clicks if len(clicks) >= len(PEOPLE) else None

            made = await eventually(every_click, "a click-to-call for every person")
        assert second.terminate() == 0
    finally:
        second.ensure_stopped()
    assert sorted((c["sip_user"], c["number"], c["password_ok"], c["ok"]) for c in made) == sorted(
        (sip_user, number, True, True) for sip_user, _pw, number in PEOPLE.values()
    )
    replies = [c.body.get("text", "") for c in fake_slack.calls if c.method == "response_url"]
    assert not [text for text in replies if "link" in text.lower()], replies  # nobody was asked to link again


def test_a_password_neither_key_opens_is_named_left_and_exits_2(tmp_path: Path) -> None:
    db = tmp_path / "ringbot.db"
    store = Store.open(db)
    lost_key = Fernet.generate_key().decode()
    for key, user in ((OLD_KEY, "U0AN"), (lost_key, "U0DUC"), (NEW_KEY, "U0CHI")):
        Links(store, Vault(key), Notices()).link(user, f"sip-{user}", f"pw-{user}", by=user, is_admin=False)
    store.close()
    env = clean_env(tmp_path, **GOOD, RINGBOT_DB=str(db), RINGBOT_SECRET_KEY=NEW_KEY, RINGBOT_SECRET_KEY_OLD=OLD_KEY)
    before = stored_links(db)

    done = ringbot(tmp_path, "rotate-key", env=env)

    assert done.returncode == 2
    assert done.stdout.splitlines() == ["1 SIP password(s) re-encrypted with RINGBOT_SECRET_KEY; 1 already were"]
    [line] = error_lines(done)
    assert line.startswith("ringbot: 1 stored SIP password(s) open with neither key and were left as they are: U0DUC")
    assert "Traceback" not in done.stderr and "pw-U0DUC" not in done.stderr and lost_key not in done.stderr
    after = stored_links(db)
    assert after["U0DUC"] == before["U0DUC"] and after["U0CHI"] == before["U0CHI"]
    assert Vault(NEW_KEY).decrypt(after["U0AN"]) == "pw-U0AN"


@pytest.mark.parametrize("command", ["run", "rotate-key"])
@pytest.mark.parametrize(
    ("key", "old", "needle"),
    [
        ("too-short", "", "RINGBOT_SECRET_KEY is neither a Fernet key nor a passphrase of at least 16 characters"),
        (NEW_KEY[:10] + NEW_KEY[11:], "", "RINGBOT_SECRET_KEY looks like a Fernet key but is not one"),
        (NEW_KEY, "short", "RINGBOT_SECRET_KEY_OLD is neither a Fernet key nor a passphrase"),
    ],
    ids=["too-short", "fernet-shaped", "old-too-short"],  # the keys are new each run: every worker must see one name
)
def test_a_malformed_secret_key_stops_ringbot_with_one_line_and_exit_2(
    tmp_path: Path, command: str, key: str, old: str, needle: str
) -> None:
    env = clean_env(
        tmp_path,
        **GOOD,
        SLACK_SIGNING_SECRET="s" * 32,
        RINGBOT_HTTP_HOST="127.0.0.1",
        RINGBOT_SECRET_KEY=key,
        **({"RINGBOT_SECRET_KEY_OLD": old} if old else {}),
    )
    done = ringbot(tmp_path, command, env=env)
    assert done.returncode == 2, done.stderr
    [line] = error_lines(done)
    assert line.startswith("ringbot: configuration error: ") and needle in line
    assert key not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "cwd" / "ringbot.db").exists(), "it stopped before opening the database"
