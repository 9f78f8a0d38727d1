"""The Slack app manifest asks for exactly the scopes the code's Slack calls need: none missing, none unused."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.ops.scopes import OPTIONAL_SCOPES, REQUIRED_SCOPES

ROOT = Path(__file__).resolve().parents[3]

# Slack Web API method -> the bot scopes it needs (docs.slack.dev method pages).
METHOD_SCOPES: dict[str, set[str]] = {
    "chat.postMessage": {"chat:write", "chat:write.public"},
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.delete": {"chat:write"},
    "users.info": {"users:read"},
    "conversations.history": {"channels:history", "groups:history"},
    "conversations.replies": {"channels:history", "groups:history"},
    "conversations.open": {"im:write"},
    "conversations.info": {"channels:read", "groups:read"},
    "views.publish": set(),
    "views.open": set(),
    "views.update": set(),
    "views.push": set(),
    "auth.test": set(),
    "chat.getPermalink": set(),
    "files.uploadV2": {"files:write"},  # getUploadURLExternal + upload + completeUploadExternal
}
CALL = re.compile(r"\.(chat|users|conversations|views|auth|files)_([a-zA-Z0-9_]+)\(")


def slack_methods_in_code() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "fakeslack.py" or "simulator" in path.parts:
                continue  # the stand-in answers these methods; it does not call them
            for family, name in CALL.findall(path.read_text(encoding="utf-8")):
                if not hasattr(AsyncWebClient, f"{family}_{name}"):
                    continue  # e.g. antbuddy.auth_token(): not a Slack method
                parts = name.split("_")
                method = family + "." + parts[0] + "".join(p.title() for p in parts[1:])
                found.add(method)
    return found


def manifest() -> dict:
    return yaml.safe_load((ROOT / "app_manifest.yml").read_text(encoding="utf-8"))


def test_every_slack_method_the_code_calls_is_known_here() -> None:
    unknown = slack_methods_in_code() - set(METHOD_SCOPES)
    assert not unknown, f"add these methods and their scopes to METHOD_SCOPES: {unknown}"


def test_manifest_scopes_are_exactly_what_the_code_needs() -> None:
    needed = {"commands"} | set().union(*(METHOD_SCOPES[m] for m in slack_methods_in_code()))
    granted = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert needed - granted == set(), f"missing from app_manifest.yml: {needed - granted}"
    assert granted - needed == set(), f"asked for but unused: {granted - needed}"
    assert granted == set(REQUIRED_SCOPES | OPTIONAL_SCOPES), "bot/ops/scopes.py (`ringbot doctor`) disagrees"


def test_manifest_has_the_command_home_interactivity_and_socket_mode() -> None:
    m = manifest()
    assert [c["command"] for c in m["features"]["slash_commands"]] == ["/ring"]
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is True
    assert "app_home_opened" in m["settings"]["event_subscriptions"]["bot_events"]
    assert 1 <= len(m["display_information"]["name"]) <= 35
    assert len(m["display_information"]["description"]) <= 140
