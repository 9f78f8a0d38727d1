"""Notices: one catalog sentence for a channel or a person (admins told of a link, a person told an admin moved
their phone), queued as an outbox row in the same transaction as the change it reports and worded when it is
sent, in its reader's language.

A NOTICE row's body is `{"key": catalog key, "fields": {...}, "user": "U…" (a DM; optional)}`. A field is a
plain value, already escaped by whoever queued it, or a sentence of its own (`{"key": ..., "fields": ...}`),
worded in the same language: "dial.announce" carries the change it announces that way."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from bot.outbox.message import Gone, MessageKind, Outgoing
from bot.slack.text import MESSAGES, say
from storage import OutboxKind

if TYPE_CHECKING:
    from storage import OutboxRow, Store

log = logging.getLogger(__name__)

MAX_DEPTH = 3  # a sentence inside a sentence inside a sentence: deeper is not a row we wrote

Field = Union[str, int, "Notice"]


@dataclass(frozen=True)
class Notice:
    """One sentence to be worded later: a catalog key and its fields (escaped plain values, or sentences)."""

    key: str
    fields: Mapping[str, Field] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.key not in MESSAGES:  # a typo here would only show when the row is sent: fail where it is made
            raise ValueError(f"no catalog sentence {self.key!r}")

    def text(self) -> str:
        """The sentence now, in the language being spoken (for the answer to the person who made the change)."""
        return word(self.as_json())

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "fields": {k: v.as_json() if isinstance(v, Notice) else v for k, v in self.fields.items()},
        }


def word(data: object, *, depth: int = 0) -> str:
    """The sentence a stored notice says, in the language being spoken. ValueError for anything we did not write
    (an unknown key, a missing or odd field)."""
    if depth > MAX_DEPTH or not isinstance(data, Mapping):
        raise ValueError("not a notice")
    key, fields = data.get("key"), data.get("fields") or {}
    if not isinstance(key, str) or key not in MESSAGES or not isinstance(fields, Mapping):
        raise ValueError(f"unknown notice {key!r}")
    values: dict[str, object] = {}
    for name, value in fields.items():
        if isinstance(value, Mapping):
            values[str(name)] = word(value, depth=depth + 1)
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            values[str(name)] = value
        else:
            raise ValueError(f"notice {key}: field {name} is not text")
    try:
        return say(key, **values)
    except (KeyError, IndexError) as exc:
        raise ValueError(f"notice {key}: field {exc} missing") from None


class NoticeKind:
    """The MessageKind of NOTICE rows: the sentence, worded now; every row is its own message."""

    async def render(self, row: OutboxRow) -> Outgoing:
        try:
            return Outgoing(text=word(row.get("body")))
        except ValueError as exc:  # a row from a version that had other sentences: nothing sensible to say
            raise Gone(str(exc)) from None

    def sent(self, row: OutboxRow, *, channel: str, ts: str) -> None:
        """A notice is said once and never edited: nothing to remember."""

    def subject(self, row: OutboxRow) -> str | None:
        return None


def notice_kinds() -> dict[str, MessageKind]:
    """For the composition root (bot/app.py), beside the other kinds it hands the Outbox (keyed by OutboxKind)."""
    return {OutboxKind.NOTICE: NoticeKind()}


@dataclass(frozen=True)
class Notices:
    """Who hears what: the admins (RINGBOT_ADMIN_CHANNEL, else a DM to each of RINGBOT_ADMINS but the one who
    acted; workspace admins cannot be listed without another scope, so with neither setting the audit trail is
    all there is), or one person in their DM. Queued inside the caller's transaction; `wake` the outbox after it
    commits."""

    admin_channel: str = ""
    admins: Collection[str] = ()
    wake: Callable[[], None] = lambda: None

    def announce(self, store: Store, notice: Notice, *, actor: str = "") -> int:
        """Queue `notice` for the admins; how many rows (0: nobody to tell)."""
        if self.admin_channel:
            store.enqueue(OutboxKind.NOTICE, self.admin_channel, body=notice.as_json())
            return 1
        targets = [a for a in self.admins if a != actor]
        for admin in targets:
            self.tell(store, admin, notice)
        return len(targets)

    def tell(self, store: Store, user: str, notice: Notice) -> None:
        """Queue `notice` for `user`'s DM, worded in their language."""
        store.enqueue(OutboxKind.NOTICE, user, body={**notice.as_json(), "user": user})

    def who(self) -> Notice:
        """Who can change a rule, as a sentence inside another: RINGBOT_ADMINS by mention, else "a workspace
        admin"."""
        if self.admins:
            return Notice("admins.named", {"admins": ", ".join(f"<@{a}>" for a in self.admins)})
        return Notice("admins.workspace")
