"""What a kind of outbox row says, worked out when it is sent (not when it is queued), so that a message that
waited through a Slack outage shows the state of things now, in its reader's language now.

Every kind of message ringbot sends is a `MessageKind`, handed to the Outbox by the composition root
(bot/app.py): the outbox itself knows how to talk to Slack, not what anything means. The Sender renders a row
inside `speaking(language)` (the channel's, or the person's for a DM: body `user`), sends what `render` gave,
and books the answer: the row `sent`, and `sent()` of the kind in the same transaction (the breach remembers
its message's ts, the digest queues its chart...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.slack.blocks import Block
    from storage import OutboxRow


@dataclass(frozen=True)
class Upload:
    """A file for files.uploadV2 (the digest's chart)."""

    content: bytes
    filename: str
    title: str


@dataclass(frozen=True)
class Outgoing:
    """One Slack call's worth: post `text`/`blocks` (in `thread_ts` when set), or edit the message `edit_ts`, or
    upload `upload` into `thread_ts`."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    thread_ts: str | None = None
    edit_ts: str | None = None
    upload: Upload | None = None


class Wait(Exception):
    """The row needs something that is not there yet (the alert's own post, the digest's ts): tried again soon,
    without counting an attempt."""


class Gone(Exception):
    """Nothing is left to say (the alert was removed, the breach forgotten): the row is closed, and says why."""


class MessageKind(Protocol):
    """How one OutboxKind is rendered and what sending it changes."""

    async def render(self, row: OutboxRow) -> Outgoing:
        """What to send for `row`, now, in the language being spoken. Raises Wait or Gone."""
        ...

    def sent(self, row: OutboxRow, *, channel: str, ts: str) -> None:
        """Inside the transaction that marks `row` sent: record where the message is, queue what follows it."""
        ...

    def subject(self, row: OutboxRow) -> str | None:
        """Rows with the same subject are answered by one send (the newest state): edits of one breach's
        message, say. None: every row is its own message."""
        ...
