"""Block Kit for linking a SIP device: the modal, the "link your phone" nudge, and `/ring me` (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Protocol

from bot.slack.blocks import Block, actions, button, escape, one_line, plain, section, view
from bot.slack.format import day_and_time, mention
from bot.slack.ids import ACTION_OPEN_LINK, VIEW_LINK
from bot.slack.text import say

BLOCK_SIP_USER = "sip_user"
BLOCK_PASSWORD = "sip_password"
INPUT_ACTION = "value"
MAX_SIP_USER = 64
MAX_PASSWORD = 128
# The SIP user names PBXs hand out (RFC 3261 allows a few more, which no AntBuddy device uses): nothing Slack could
# read as markup (no <, >, &, `, *, ~, @), so a SIP user shown anywhere is plain text.
SIP_USER_CHARS = re.compile(r"[A-Za-z0-9._+\-]+")


@dataclass(frozen=True)
class LinkForm:
    """The modal's private_metadata: whose phone is being linked, and where the command was typed."""

    target: str
    channel: str = ""

    def dump(self) -> str:
        return json.dumps({"target": self.target, "channel": self.channel})

    @classmethod
    def load(cls, raw: object, fallback_user: str) -> LinkForm:
        """What `dump` wrote; a forged or unreadable value falls back to the submitter's own phone (the listener
        then checks the target anyway)."""
        try:
            data = json.loads(raw) if isinstance(raw, str) and raw else {}
        except (ValueError, RecursionError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        return cls(str(data.get("target") or fallback_user), str(data.get("channel") or ""))


def saved_later_modal(title: str = "link.title") -> dict[str, Any]:
    """What a dialog turns into when its change waits for the database (`title`: the dialog's title key)."""
    return view(
        "modal", [section(say("database.saved_later"))], title=plain(say(title)), close=plain(say("link.close"))
    )


def link_modal(form: LinkForm, *, for_self: bool, sip_user: str = "") -> dict[str, Any]:
    """The link dialog (views.open). The password input is empty: a stored password is never sent back."""
    user_input: dict[str, Any] = {"type": "plain_text_input", "action_id": INPUT_ACTION, "max_length": MAX_SIP_USER}
    if sip_user:
        user_input["initial_value"] = one_line(sip_user)[:MAX_SIP_USER]  # longer than max_length: Slack refuses
    intro = say("link.intro") if for_self else say("link.intro_other", user=mention(form.target))
    return view(
        "modal",
        [
            section(intro),
            {
                "type": "input",
                "block_id": BLOCK_SIP_USER,
                "label": plain(say("link.sip_user_label")),
                "hint": plain(say("link.sip_user_hint")),
                "element": user_input,
            },
            {
                "type": "input",
                "block_id": BLOCK_PASSWORD,
                "label": plain(say("link.password_label")),
                "hint": plain(say("link.password_hint")),
                "element": {"type": "plain_text_input", "action_id": INPUT_ACTION, "max_length": MAX_PASSWORD},
            },
        ],
        callback_id=VIEW_LINK,
        private_metadata=form.dump(),
        title=plain(say("link.title" if for_self else "link.title_other")),
        submit=plain(say("link.submit")),
        close=plain(say("link.cancel")),
    )


def submitted_fields(submitted: Mapping[str, Any]) -> tuple[str, str]:
    """(sip_user, password) from a view_submission's state; missing fields come back as ''."""
    state = submitted.get("state") if isinstance(submitted, Mapping) else None
    values = state.get("values") if isinstance(state, Mapping) else None

    def field(block: str) -> str:
        """Only Slack's own shape counts: {block: {action: {"value": "..."}}}; anything else is empty."""
        node: Any = values
        for key in (block, INPUT_ACTION, "value"):
            node = node.get(key) if isinstance(node, Mapping) else None
        return node if isinstance(node, str) else ""

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
    elif not SIP_USER_CHARS.fullmatch(sip_user):
        errors[BLOCK_SIP_USER] = say("link.err_chars")
    if not password:
        errors[BLOCK_PASSWORD] = say("link.err_required")
    elif len(password) > MAX_PASSWORD:
        errors[BLOCK_PASSWORD] = say("link.err_too_long", max=MAX_PASSWORD)
    elif not vault_available:
        errors[BLOCK_PASSWORD] = say("link.err_no_key")
    return errors


def not_linked_blocks(target: str = "") -> list[Block]:
    """The ephemeral answer for an unlinked user: why, and a button that opens the link dialog."""
    return [
        section(say("callback.not_linked")),
        actions(
            [button(say("callback.link_button"), ACTION_OPEN_LINK, target, style="primary")], block_id="link_nudge"
        ),
    ]


class LinkedDevice(Protocol):
    """What `/ring me` shows of a device link (bot/callback/links.py: DeviceLink)."""

    @property
    def sip_user(self) -> str: ...
    @property
    def linked_at(self) -> float | None: ...
    @property
    def linked_by(self) -> str | None: ...
    @property
    def linked_by_someone_else(self) -> bool: ...


def me_text(link: LinkedDevice | None, tz: tzinfo, *, now: float | None = None) -> str:
    """`/ring me`: SIP user, when and by whom it was linked; never the password (not even its length)."""
    if link is None:
        return say("me.not_linked")
    by_text = say("me.linked_by", by=mention(link.linked_by)) if link.linked_by_someone_else else ""
    sip_user = escape(link.sip_user, limit=MAX_SIP_USER, code=True)
    return say("me.linked", sip_user=sip_user, when=day_and_time(link.linked_at, tz, now=now), by=by_text)
