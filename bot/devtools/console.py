"""Slack messages as plain terminal text, for `ringbot demo` (pure)."""

from __future__ import annotations

import re
from typing import Any

_USER = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]+))?>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]+))?>")
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_BARE = re.compile(r"<((?:https?|mailto|tel):[^>]+)>")
_SPECIAL = re.compile(r"<!(here|channel|everyone|subteam\^[A-Z0-9]+)(?:\|([^>]+))?>")  # escalation targets
_CODE_BLOCK = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_STASHED = re.compile("\x00(\\d+)\x00")


def _span(mark: str) -> re.Pattern[str]:
    """Slack's `*bold*`, `_italic_`, `~strike~`: the marks touch the words inside and no word outside."""
    m = re.escape(mark)
    return re.compile(rf"(?<![\w{m}]){m}(?=\S)([^{m}\n]*?\S){m}(?![\w{m}])")


_BOLD, _ITALIC, _STRIKE = _span("*"), _span("_"), _span("~")
# ANSI on / off per style (a terminal shows them; plain output just drops Slack's marks, as Slack does).
_ANSI = {"bold": ("\x1b[1m", "\x1b[22m"), "italic": ("\x1b[3m", "\x1b[23m"), "strike": ("\x1b[9m", "\x1b[29m")}
_ANSI_CODE = ("\x1b[36m", "\x1b[39m")


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
    ":bell:": "🔔",
    ":grey_question:": "❔",
    ":heavy_minus_sign:": "➖",
    ":hourglass:": "⌛",
    ":rotating_light:": "🚨",
    ":tada:": "🎉",
}
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-]+:")


def mrkdwn_to_text(text: str, names: dict[str, str] | None = None, *, ansi: bool = False) -> str:
    """Slack mrkdwn as Slack shows it: emoji for shortcodes, `label (url)` for links, @name for mentions, and
    bold / italic / strike / code without their marks (as terminal styles when `ansi`). Code is shown as written."""
    names = names or {}
    code: list[str] = []

    def stash(body: str) -> str:
        on, off = _ANSI_CODE if ansi else ("", "")
        code.append(f"{on}{body}{off}")
        return f"\x00{len(code) - 1}\x00"

    text = _CODE_BLOCK.sub(lambda m: stash(m.group(1)), text)
    text = _CODE.sub(lambda m: stash(m.group(1)), text)
    text = _EMOJI_CODE.sub(lambda m: _EMOJI.get(m.group(0), m.group(0)), text)
    text = _USER.sub(lambda m: "@" + (m.group(2) or names.get(m.group(1), m.group(1))), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: m.group(2) or "@" + m.group(1).replace("subteam^", ""), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({_target(m.group(1))})", text)
    text = _BARE.sub(lambda m: _target(m.group(1)), text)
    for style, pattern in (("bold", _BOLD), ("italic", _ITALIC), ("strike", _STRIKE)):
        on, off = _ANSI[style] if ansi else ("", "")
        text = pattern.sub(rf"{on}\1{off}", text)
    text = _STASHED.sub(lambda m: code[int(m.group(1))], text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _target(url: str) -> str:
    return url.removeprefix("mailto:").removeprefix("tel:")


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "")


def blocks_to_text(
    blocks: list[dict[str, Any]], names: dict[str, str] | None = None, *, ansi: bool = False
) -> list[str]:
    """One or more lines per block: text as written, buttons in [brackets]."""
    lines: list[str] = []
    for b in blocks or []:
        kind = b.get("type")
        if kind == "header":
            lines.append(f"▌ {mrkdwn_to_text(_text(b.get('text')), names, ansi=ansi)}")
        elif kind == "section":
            if b.get("text"):
                lines.extend(mrkdwn_to_text(_text(b["text"]), names, ansi=ansi).splitlines())
            for f in b.get("fields") or []:
                lines.append("  " + mrkdwn_to_text(_text(f), names, ansi=ansi).replace("\n", " "))
            acc = b.get("accessory")
            if acc and acc.get("type") == "button":
                lines[-1:] = [f"{lines[-1] if lines else ''}  [{_text(acc.get('text'))}]"]
        elif kind == "context":
            texts = [_text(e) for e in b.get("elements") or [] if e.get("type") != "image"]
            parts = [mrkdwn_to_text(t, names, ansi=ansi) for t in texts]
            lines.append("  " + " · ".join(p for p in parts if p))
        elif kind == "actions":
            buttons = [f"[{_text(e.get('text'))}]" for e in b.get("elements") or [] if e.get("text")]
            lines.append("  " + " ".join(buttons))
        elif kind == "divider":
            lines.append("  ────────")
        elif kind == "rich_text":
            lines.append("  (rich text)")
    return lines


def message_to_text(body: dict[str, Any], names: dict[str, str] | None = None, *, ansi: bool = False) -> list[str]:
    blocks = body.get("blocks")
    if isinstance(blocks, list) and blocks:
        return blocks_to_text(blocks, names, ansi=ansi)
    return mrkdwn_to_text(str(body.get("text", "")), names, ansi=ansi).splitlines()
