"""Refused commands over the wire: a person repeating a refused `/ring watch` adds one audit row a minute, with the
count in it, not one row per try."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.devtools.simulator.directory import QUEUES
from storage.store import refusals_in
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

QUEUE = next(q.queue_id for q in QUEUES if q.name == "CSKH")


async def test_a_thousand_refused_watch_commands_leave_a_handful_of_audit_rows_that_count_them(
    bot_http: Any,
) -> None:
    clock = FakeClock(1_700_000_040.0)  # on a minute: 12 batches in the first, 8 in the next
    bot_http.deps.store.clock = clock
    for batch in range(20):
        replies = await asyncio.gather(*(bot_http.command("watch CSKH waiting>=3") for _ in range(50)))
        assert all(r.status_code == 200 for r in replies)
        await eventually(lambda n=batch: len(bot_http.responses()) >= 50 * (n + 1), "the refusals answered")
        clock.advance(5)
    assert all(r["text"].startswith("Only admins") for r in bot_http.responses())
    rows = bot_http.deps.store.audit(action="queue_watch", limit=2000)
    assert len(rows) == 2 and {r["result"] for r in rows} == {"refused"}
    assert sum(refusals_in(r["detail"]) for r in rows) == 1000
    assert [r["detail"] for r in rows] == [f"{QUEUE} [400 times this minute]", f"{QUEUE} [600 times this minute]"]
