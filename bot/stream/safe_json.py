"""The JSON module python-socketio decodes packets with. A payload Python cannot read (nested thousands deep)
becomes an event named UNREADABLE, which the pipeline rejects and counts, instead of an exception in a task
nobody awaits; a number too long to be anything never fails the packet, so the rest of the event, maybe the
DESTROY of a missed call, still counts. The common case is decoded by orjson (bot/calls/jsontext.py), which
reads an integer past 64 bits as a float; what it refuses comes here, where a number of more than 100 digits
(engineio's own limit) is read as null."""

from __future__ import annotations

import json
from json import JSONDecodeError, dumps  # noqa: F401 - the module interface python-socketio expects
from typing import Any

from bot.calls.jsontext import decoder

UNREADABLE = "__unreadable__"
MAX_INT_DIGITS = 100


def _int(text: str) -> int | None:
    return int(text) if len(text) <= MAX_INT_DIGITS else None


def _standard(data: str | bytes | bytearray) -> Any:
    try:
        return json.loads(data, parse_int=_int)
    except RecursionError:
        return [UNREADABLE]


_fast = decoder(_standard)


def loads(data: str | bytes, *args: Any, **kwargs: Any) -> Any:
    if args or kwargs:  # not how python-socketio calls it; kept for the module interface
        kwargs.setdefault("parse_int", _int)
        try:
            return json.loads(data, *args, **kwargs)
        except RecursionError:
            return [UNREADABLE]
    return _fast(data)
