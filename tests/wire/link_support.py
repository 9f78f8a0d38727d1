"""Helpers and the `ring` fixture shared by the linking, call-back and secrets tests."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import VIEW_LINK
from bot.slack.render.link import BLOCK_PASSWORD, BLOCK_SIP_USER, INPUT_ACTION, LinkForm
from tests.support.waiting import eventually

DEADLINE = 5.0
SLASH_TRIGGER = "13345224609.738474920.8088930838d88f008e0"  # bot.devtools.fakeslack.slash_command_body's default
ACTION_TRIGGER = "1.2.3"  # bot.devtools.fakeslack.block_actions_body's


# -- helpers (imported by the other callback tests) ---------------------------------------------------
def link_values(sip_user: str, password: str) -> dict[str, Any]:
    return {
        BLOCK_SIP_USER: {INPUT_ACTION: {"type": "plain_text_input", "value": sip_user}},
        BLOCK_PASSWORD: {INPUT_ACTION: {"type": "plain_text_input", "value": password}},
    }


async def link_via_modal(ring: Any, user: str, sip_user: str, password: str, *, target: str | None = None) -> None:
    """Submit the link dialog as Slack would and wait until the row is stored."""
    target = target or user
    resp = await ring.view(
        VIEW_LINK, link_values(sip_user, password), user=user, private_metadata=LinkForm(target, "C0CALLS").dump()
    )
    assert resp.status_code == 200, resp.text
    await eventually(lambda: (ring.deps.store.get_link(target) or {}).get("sip_user") == sip_user, "link stored")


async def set_device(ring: Any, sip_user: str, password: str, *, online: bool = True) -> None:
    """Register (or unregister) a SIP device in the simulator through its control API."""
    resp = await ring.http.put(f"{ring.sim.url}/_sim/devices/{sip_user}", json={"password": password, "online": online})
    assert resp.status_code == 200, resp.text


async def sim_clicks(ring: Any) -> list[dict[str, Any]]:
    resp = await ring.http.get(f"{ring.sim.url}/_sim/state")
    return resp.json()["clicks"]


def dms(ring: Any, user: str) -> list[Any]:
    """What the bot posted in its DM with `user` (the fake Slack's DM channel for U… is D…)."""
    return ring.slack.posts("D" + user[1:])


def texts(ring: Any) -> list[str]:
    return [r.get("text", "") for r in ring.responses()]


async def wait_reply(ring: Any, count: int) -> str:
    """The text of the `count`-th ephemeral reply (1-based), once it has arrived."""
    await ring.slack.wait_for(lambda: len(ring.responses()) >= count, DEADLINE)
    assert len(ring.responses()) >= count, f"expected {count} replies, got {texts(ring)}"
    return ring.responses()[count - 1].get("text", "")


# -- /ring link and the modal -------------------------------------------------------------------------
