"""Every sentence ringbot says to people, keyed by id, so wording stays consistent (and translatable).

Each area keeps its keys in its own section; `say(key, **fields)` formats one.
"""
from __future__ import annotations

MESSAGES: dict[str, str] = {
    # -- general ---------------------------------------------------------------------------------
    "error.internal": "Something went wrong on our side; it has been logged. Please try again.",
    "antbuddy.slow": "AntBuddy did not answer within {seconds} s; try again in a moment.",
    "antbuddy.down": "AntBuddy is not reachable right now ({reason}); try again in a moment.",
    "antbuddy.rate_limited": "AntBuddy is busy (rate limited); try again in a minute.",
    # -- alerts (bot/alerting.py, handlers/render/alert.py) ---------------------------------------
    # -- commands (handlers/commands.py, handlers/home.py, handlers/render/*) ----------------------
    # -- callback (handlers/callback.py: link, call back, handled) ----------------------------------
}


def say(key: str, **fields: object) -> str:
    """The sentence for `key` with its fields filled in."""
    return MESSAGES[key].format(**fields)
