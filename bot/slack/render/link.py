"""Block Kit for linking a SIP device: the modal, the "link your phone" nudge, and `/ring me` (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.slack.ids import ACTION_OPEN_LINK, VIEW_LINK
from bot.slack.render.alert import format_local_time
from bot.slack.text import say

BLOCK_SIP_USER = "sip_user"
BLOCK_PASSWORD = "sip_password"
INPUT_ACTION = "value"
MAX_SIP_USER = 64
MAX_PASSWORD = 128


@dataclass(frozen=True)
class LinkForm:
    """The modal's private_metadata: whose phone is being linked, and where the command was typed."""

    target: str
    channel: str = ""

    def dump(self) -> str:
        return json.dumps({"target": self.target, "channel": self.channel})

    @classmethod
    def load(cls, raw: str | None, fallback_user: str) -> LinkForm:
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        return cls(str(data.get("target") or fallback_user), str(data.get("channel") or ""))


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def link_modal(form: LinkForm, *, for_self: bool, sip_user: str = "") -> dict[str, Any]:
    """The link dialog (views.open). The password input is empty: a stored password is never sent back."""
    user_input: dict[str, Any] = {"type": "plain_text_input", "action_id": INPUT_ACTION, "max_length": MAX_SIP_USER}
    if sip_user:
        user_input["initial_value"] = sip_user
    intro = say("link.intro") if for_self else say("link.intro_other", user=form.target)
    return {
        "type": "modal",
        "callback_id": VIEW_LINK,
        "private_metadata": form.dump(),
        "title": _plain(say("link.title" if for_self else "link.title_other")),
        "submit": _plain(say("link.submit")),
        "close": _plain(say("link.cancel")),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": intro}},
            {
                "type": "input",
                "block_id": BLOCK_SIP_USER,
                "label": _plain(say("link.sip_user_label")),
                "hint": _plain(say("link.sip_user_hint")),
                "element": user_input,
            },
            {
                "type": "input",
                "block_id": BLOCK_PASSWORD,
                "label": _plain(say("link.password_label")),
                "hint": _plain(say("link.password_hint")),
                "element": {"type": "plain_text_input", "action_id": INPUT_ACTION, "max_length": MAX_PASSWORD},
            },
        ],
    }


def submitted_fields(view: Mapping[str, Any]) -> tuple[str, str]:
    """(sip_user, password) from a view_submission's state; missing fields come back as ''."""
    values = (view.get("state") or {}).get("values") or {}

    def field(block: str) -> str:
        value = ((values.get(block) or {}).get(INPUT_ACTION) or {}).get("value")
        return value if isinstance(value, str) else ""

    return field(BLOCK_SIP_USER).strip(), field(BLOCK_PASSWORD)


def field_errors(sip_user: str, password: str, *, vault_available: bool = True) -> dict[str, str]:
    """Slack's `response_action: errors` map (block id -> one line) for a bad submission; {} when fine."""
    errors: dict[str, str] = {}
    if not sip_user:
        errors[BLOCK_SIP_USER] = say("link.err_required")
    elif any(c.isspace() for c in sip_user):
        errors[BLOCK_SIP_USER] = say("link.err_space")
    elif len(sip_user) > MAX_SIP_USER:
        errors[BLOCK_SIP_USER] = say("link.err_too_long", max=MAX_SIP_USER)
    if not password:
        errors[BLOCK_PASSWORD] = say("link.err_required")
    elif len(password) > MAX_PASSWORD:
        errors[BLOCK_PASSWORD] = say("link.err_too_long", max=MAX_PASSWORD)
    elif not vault_available:
        errors[BLOCK_PASSWORD] = say("link.err_no_key")
    return errors


def not_linked_blocks(target: str = "") -> list[dict[str, Any]]:
    """The ephemeral answer for an unlinked user: why, and a button that opens the link dialog."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": say("callback.not_linked")}},
        {
            "type": "actions",
            "block_id": "link_nudge",
            "elements": [
                {
                    "type": "button",
                    "action_id": ACTION_OPEN_LINK,
                    "value": target,
                    "style": "primary",
                    "text": _plain(say("callback.link_button")),
                },
            ],
        },
    ]


def me_text(link: Mapping[str, Any] | None, tz: ZoneInfo, *, now: float | None = None) -> str:
    """`/ring me`: SIP user, when and by whom it was linked; never the password (not even its length)."""
    if not link:
        return say("me.not_linked")
    by = link.get("linked_by")
    by_text = say("me.linked_by", by=by) if by and by != link.get("slack_user") else ""
    return say(
        "me.linked", sip_user=link["sip_user"], when=format_local_time(link.get("linked_at"), tz, now=now), by=by_text
    )
