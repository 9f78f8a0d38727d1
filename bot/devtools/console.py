"""Slack messages as plain terminal text, for `ringbot demo` (pure)."""

from __future__ import annotations

import re
from typing import Any

_USER = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]+))?>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]+))?>")
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_BARE = re.compile(r"<(https?://[^>]+)>")


_EMOJI = {
    ":red_circle:": "🔴",
    ":large_orange_circle:": "🟠",
    ":telephone_receiver:": "📞",
    ":white_check_mark:": "✅",
    ":heavy_check_mark:": "✔",
    ":warning:": "⚠",
    ":arrow_lower_left:": "↙",
    ":arrow_upper_right:": "↗",
    ":hourglass_flowing_sand:": "⏳",
    ":busts_in_silhouette:": "👥",
    ":phone:": "☎",
    ":studio_microphone:": "🎙",
    ":green_circle:": "🟢",
    ":white_circle:": "⚪",
    ":large_yellow_circle:": "🟡",
    ":large_blue_circle:": "🔵",
    ":black_circle:": "⚫",
    ":x:": "❌",
    ":repeat:": "🔁",
    ":ballot_box_with_check:": "☑",
    ":large_green_circle:": "🟢",
    ":memo:": "📝",
    ":double_vertical_bar:": "⏸",
    ":speech_balloon:": "💬",
    ":bust_in_silhouette:": "👤",
}
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-]+:")


def mrkdwn_to_text(text: str, names: dict[str, str] | None = None) -> str:
    names = names or {}
    text = _EMOJI_CODE.sub(lambda m: _EMOJI.get(m.group(0), m.group(0)), text)
    text = _USER.sub(lambda m: "@" + (m.group(2) or names.get(m.group(1), m.group(1))), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _BARE.sub(lambda m: m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "")


def blocks_to_text(blocks: list[dict[str, Any]], names: dict[str, str] | None = None) -> list[str]:
    """One or more lines per block: text as written, buttons in [brackets]."""
    lines: list[str] = []
    for b in blocks or []:
        kind = b.get("type")
        if kind == "header":
            lines.append(f"▌ {mrkdwn_to_text(_text(b.get('text')), names)}")
        elif kind == "section":
            if b.get("text"):
                lines.extend(mrkdwn_to_text(_text(b["text"]), names).splitlines())
            for f in b.get("fields") or []:
                lines.append("  " + mrkdwn_to_text(_text(f), names).replace("\n", " "))
            acc = b.get("accessory")
            if acc and acc.get("type") == "button":
                lines[-1:] = [f"{lines[-1] if lines else ''}  [{_text(acc.get('text'))}]"]
        elif kind == "context":
            parts = [mrkdwn_to_text(_text(e), names) for e in b.get("elements") or [] if e.get("type") != "image"]
            lines.append("  " + " · ".join(p for p in parts if p))
        elif kind == "actions":
            buttons = [f"[{_text(e.get('text'))}]" for e in b.get("elements") or [] if e.get("text")]
            lines.append("  " + " ".join(buttons))
        elif kind == "divider":
            lines.append("  ────────")
        elif kind == "rich_text":
            lines.append("  (rich text)")
    return lines


def message_to_text(body: dict[str, Any], names: dict[str, str] | None = None) -> list[str]:
    blocks = body.get("blocks")
    if isinstance(blocks, list) and blocks:
        return blocks_to_text(blocks, names)
    return mrkdwn_to_text(str(body.get("text", "")), names).splitlines()
