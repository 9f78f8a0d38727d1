"""`/ring stats` and `/ring queues` over the wire when ringbot's records do not cover the period: what they lack is
read from AntBuddy's history (the simulator's) and kept in the calls table marked source=history, with no alert for
those old calls; a slow history does not hold the answer (it says from when the records start, and the next ask
counts the rest); AntBuddy's own totals for today stand beside ringbot's figures."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.alerts.reconcile import RECORDS_SINCE_KEY
from tests.support.waiting import eventually
from tests.wire.test_commands import ask, sim_faults

TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # ringbot's zone (RINGBOT_TIMEZONE unset) and the simulator's day


async def history(ring, calls: int, *, days_ago: int) -> list[dict]:
    """`calls` queue calls that day, 09:00 to 17:00, in AntBuddy's history only."""
    day = datetime.now(TZ).date() - timedelta(days=days_ago)
    nine = datetime(day.year, day.month, day.day, 9, tzinfo=TZ).timestamp()
    r = await ring.http.post(f"{ring.sim.url}/_sim/history", json={"calls": calls, "since": nine,
                                                                   "until": nine + 8 * 3600})  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()["calls"]


def blocks(body: dict) -> str:
    return str(body.get("blocks") or body.get("text"))


async def test_stats_7d_reads_the_days_ringbot_lacks_from_history_and_keeps_them_as_history_calls(ring) -> None:
    seeded = await history(ring, 9, days_ago=3)
    await history(ring, 4, days_ago=40)  # older than AntBuddy keeps: never asked for
    answer = await ask(ring, "stats 7d")
    assert "*All queues*: 9 offered" in blocks(answer), answer
    assert "records start" not in blocks(answer)
    store = ring.deps.store
    rows = store.conn.execute("SELECT call_id, source FROM calls ORDER BY started_at").fetchall()
    assert sorted(r[0] for r in rows) == sorted(c["call_id"] for c in seeded) and {r[1] for r in rows} == {"history"}
    assert store.conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0  # figures, not alerts
    since = float(store.get_meta(RECORDS_SINCE_KEY))
    week_start = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=6)
    assert since <= week_start.timestamp()
    # The cache answers the next ask: AntBuddy failing now changes nothing.
    await sim_faults(ring, count=-1, status=500)
    again = await ask(ring, "stats 7d")
    assert "*All queues*: 9 offered" in blocks(again) and "records start" not in blocks(again)


async def test_a_slow_history_does_not_hold_the_answer_which_says_from_when_the_records_start(ring) -> None:
    await history(ring, 6, days_ago=2)
    await sim_faults(ring, count=1, delay=8)  # the first history page takes 8 s
    started = time.monotonic()
    first = await ask(ring, "stats 7d")
    assert time.monotonic() - started < 7.5  # answered before the page came
    assert "ringbot's records start at" in blocks(first) and "ask again in a minute" in blocks(first), first
    await eventually(
        lambda: float(ring.deps.store.get_meta(RECORDS_SINCE_KEY)) < time.time() - 6 * 86400, "the read finished", 15
    )
    later = await ask(ring, "stats 7d")
    assert "*All queues*: 6 offered" in blocks(later) and "records start" not in blocks(later), later


async def test_queues_shows_antbuddys_own_totals_for_today_beside_ringbots(ring) -> None:
    now = time.time()
    ring.deps.store.set_meta(RECORDS_SINCE_KEY, f"{now:.3f}")  # ringbot started just now
    midnight = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    start = max(midnight + 1, now - 3600)  # earlier today, whenever the test runs
    await ring.http.post(f"{ring.sim.url}/_sim/calls", json={"scenario": "queue_abandoned", "stream": False,
                                                            "wait": True, "start": start})  # fmt: skip
    answer = await ask(ring, "queues")
    text = blocks(answer)
    assert "AntBuddy's own totals today, all queues: 1 offered · 0 handled · 1 abandoned" in text, answer
    assert text.count("Today: 1 offered") == 1, answer  # ringbot counts the same call, read from history
