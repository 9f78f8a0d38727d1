"""The plaintext SIP password (and the vault key) never appear in logs, in the SQLite files, in anything
sent to Slack, or in what the simulator kept — after linking, relinking, calling back, failing and `/ring me`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from bot.callback.vault import Vault
from bot.slack.ids import ACTION_CALLBACK, ACTION_OPEN_LINK, VIEW_LINK
from bot.slack.render.link import LinkForm
from tests.wire.link_support import (
    link_values,
    link_via_modal,
    # noqa: F401
    set_device,
    sim_clicks,
    wait_reply,
)

# Only characters that URL-encoding and JSON leave alone, so one search covers every encoding.
PASSWORD = "Zx9-SIP-pass-QQ7"
ADMIN_SET_PASSWORD = "Admin-set-PW-k31"
SIP = "sip_leak_301"


def sqlite_bytes(db_path: str) -> bytes:
    """The database file and its WAL and shared-memory siblings, as they are on disk."""
    out = b""
    for suffix in ("", "-wal", "-shm"):
        p = Path(db_path + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


async def test_the_sip_password_never_leaks_anywhere(ring, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    await set_device(ring, SIP, PASSWORD)
    await set_device(ring, "sip_other_302", ADMIN_SET_PASSWORD)

    # link (modal), reopen the modal (it shows the SIP user), a rejected submission, an admin linking someone
    await ring.command("link")
    await link_via_modal(ring, "U0AGENT", SIP, PASSWORD)
    await ring.action(ACTION_OPEN_LINK, "")
    bad = await ring.view(VIEW_LINK, link_values("has space", PASSWORD), private_metadata=LinkForm("U0AGENT").dump())
    assert bad.json()["response_action"] == "errors"
    await link_via_modal(ring, "UADMIN", "sip_other_302", ADMIN_SET_PASSWORD, target="UOTHER")

    async def answered(request: Any) -> None:
        """Send one request and wait for its ephemeral answer."""
        before = len(ring.responses())
        await request
        await wait_reply(ring, before + 1)

    # call back: ok, duplicate, from another user's device, offline; /ring call; /ring me; a changed key
    alert_id = ring.deps.store.create_alert(
        {
            "call_id": "c-leak",
            "customer_number": "0987654321",
            "customer_key": "+84987654321",
            "outcome": "missed",
            "channel": "C0ALERTS",
        }
    )
    await answered(ring.action(ACTION_CALLBACK, str(alert_id)))
    await answered(ring.action(ACTION_CALLBACK, str(alert_id)))
    await answered(ring.action(ACTION_CALLBACK, str(alert_id), user="UOTHER"))
    await set_device(ring, SIP, PASSWORD, online=False)
    await answered(ring.command("call 0911222333"))
    await answered(ring.command("me"))
    # a restart with another RINGBOT_SECRET_KEY: stored passwords no longer decrypt
    ring.deps.links.vault = Vault("a completely different passphrase")
    await answered(ring.command("call 0911222444"))
    assert "Link your phone again" in ring.responses()[-1]["text"]

    clicks = await sim_clicks(ring)
    assert {c["sip_user"] for c in clicks} == {SIP, "sip_other_302"} and all(c["password_ok"] for c in clicks)

    # -- where it could have leaked --------------------------------------------------------------
    secrets = [PASSWORD, ADMIN_SET_PASSWORD, ring.deps.settings.secret_key]
    log_text = caplog.text + "\n".join(repr(r.args) for r in caplog.records)
    slack_bodies = json.dumps([{"m": c.method, "b": c.body} for c in ring.slack.calls], default=str)
    sim_state = json.dumps(clicks) + repr(ring.sim.clicks)
    db = sqlite_bytes(ring.deps.settings.db_path)
    assert ring.deps.store.get_link("U0AGENT")["sip_user"] == SIP  # the rows are there, encrypted
    assert caplog.records and ring.slack.calls and db
    for secret in secrets:
        assert secret not in log_text, "secret in the logs"
        assert secret not in slack_bodies, "secret sent to Slack"
        assert secret not in sim_state, "secret kept by the simulator state"
        assert secret.encode() not in db, "secret in the SQLite files"


async def test_the_vault_repr_in_deps_does_not_show_the_key(ring) -> None:
    key = ring.deps.settings.secret_key
    assert key and key not in repr(ring.deps) and key not in repr(ring.deps.links.vault)
