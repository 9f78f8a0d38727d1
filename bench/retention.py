"""A year of calls through the store with the daily prune: the database stays the size its retention implies.

What: the SQLite file's size (after the checkpoint the daily prune does) day after day, while a call centre's
traffic is written through `Store` (the product's own statements) and `prune_daily` (the job `ringbot run`
runs) deletes what the retention no longer covers. Per day: `--calls` decided calls (two legs each, a JSON
detail, agents rung), a fifth of them missed or abandoned with an alert, its owner, a DM copy, its outbox post
and two edits sent; an audit row for every alert (handled, click-to-call) and a few refusals; short hang-ups,
two queue breaches and a daily digest with its outbox row.
Target: the file never grows past what the retention implies, i.e. its size once it held `retention` days
(before the first prune had anything to delete) plus 10 % for pages SQLite keeps free; with a retention longer
than the run, the bytes a day measured over the run, times the retention.

    python bench/retention.py                          # a year, 300 calls a day, 90-day retention
    python bench/retention.py --retention-days 400     # the default retention: nothing is due within a year
    python bench/retention.py --days 60 --calls 100    # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT  # noqa: E402,F401  (puts the repository on sys.path)

from bot.ops.retention import DAY, prune_daily  # noqa: E402
from storage import OwnershipStore, Store  # noqa: E402
from storage.queues import QueueStore  # noqa: E402
from storage.retention import TABLES  # noqa: E402
from tests.support.clock import FakeClock  # noqa: E402

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC
MARGIN = 1.10  # free pages SQLite keeps between prunes


def write_day(store: Store, clock: FakeClock, day: int, calls: int, rng: random.Random) -> None:
    """One day's traffic, written through the store in one transaction (as the pipeline batches its writes)."""
    owners, queues = OwnershipStore(store), QueueStore(store)
    midnight = START + day * DAY
    with store.transaction():
        for n in range(calls):
            at = midnight + 8 * 3600 + n * (10 * 3600 / calls)
            clock.now = at
            call_id = f"d{day}-c{n}-" + f"{rng.getrandbits(64):016x}"
            number = f"09{rng.randrange(10**8):08d}"
            missed = rng.random() < 0.2
            outcome = rng.choice(("missed", "abandoned")) if missed else "answered"
            agents = [f"user_agent{rng.randrange(100, 120)}" for _ in range(rng.randrange(1, 4))]
            store.save_legs(
                [
                    {"leg_id": f"{call_id}-a", "call_id": call_id, "caller": number, "created_at": at},
                    {"leg_id": f"{call_id}-b", "call_id": call_id, "username": agents[0], "created_at": at + 1},
                ]
            )
            store.insert_call(
                {
                    "call_id": call_id,
                    "direction": "inbound",
                    "outcome": outcome,
                    "customer_number": number,
                    "customer_key": "+84" + number[1:],
                    "dialled": "02873019555",
                    "queue_id": f"queue{rng.randrange(3)}",
                    "started_at": at,
                    "ended_at": at + 60,
                    "ring_seconds": rng.randrange(5, 60),
                    "talk_seconds": 0 if missed else rng.randrange(30, 600),
                    "hangup_cause": "NORMAL_CLEARING",
                    "agents_rung": agents,
                    "answered_by": None if missed else agents[0],
                    "detail": {"queue_stat": {"misses": len(agents), "end_reason": "caller hung up"}},
                }
            )
            if not missed:
                continue
            alert = store.create_alert(
                {
                    "call_id": call_id,
                    "customer_number": number,
                    "customer_key": "+84" + number[1:],
                    "outcome": outcome,
                    "channel": "C0CALLS",
                    "ts": f"{at:.6f}",
                    "last_call_at": at,
                }
            )
            owners.set_owner(alert, "U0AN", at + 120)
            owners.add_copy(alert, "U0AN")
            owners.set_copy_message(alert, "U0AN", channel="D0AN", ts=f"{at + 1:.6f}")
            for kind in ("post", "update", "update"):
                row = store.enqueue(kind, "C0CALLS", alert_id=alert)
                store.mark_outbox(row, "sent", ts=f"{at:.6f}", sent_at=at + 1)
            store.update_alert(alert, status="handled", handled_by="U0AN", handled_at=at + 600)
            store.add_audit("click_to_call", "ok", slack_user="U0AN", number=number, alert_id=alert)
            store.add_audit("handled", "ok", slack_user="U0AN", alert_id=alert)
            if rng.random() < 0.1:
                owners.add_short_hangup({"call_id": call_id + "-short", "started_at": at, "ring_seconds": 2}, "C0CALLS")
        for n in range(10):  # refusals, counted per minute
            clock.now = midnight + 12 * 3600 + n * 5
            store.add_audit("queue_watch", "refused", slack_user="U0AGENT", detail="queue0")
        for q in range(2):
            clock.now = midnight + (10 + q) * 3600
            breach = queues.save_breach(
                None, {"queue_id": f"queue{q}", "channel": "C0CALLS", "level": 1, "started_at": clock.now}
            )
            queues.save_breach(breach, {"recovered_at": clock.now + 600, "snapshot": {"waiting": 4, "longest": 95}})
        clock.now = midnight + 18 * 3600
        day_text = time.strftime("%Y-%m-%d", time.gmtime(midnight))
        queues.mark_digest(day_text, "C0CALLS")
        row = store.enqueue("daily_digest", "C0CALLS", body={"day": day_text})
        store.mark_outbox(row, "sent", ts=f"{clock.now:.6f}", sent_at=clock.now)


def file_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def run(days: int, calls: int, retention: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    clock = FakeClock(START)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ringbot.db"
        store = Store.open(path, clock=clock)
        sizes: list[int] = []
        removed = dict.fromkeys(TABLES, 0)
        started = time.monotonic()
        for day in range(days):
            write_day(store, clock, day, calls, rng)
            clock.now = START + (day + 1) * DAY + 3 * 3600  # the prune runs at night
            for table, count in (await prune_daily(store, now=clock.now, retention_days=retention)).items():
                removed[table] += count
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            sizes.append(file_size(path))
            if (day + 1) % 30 == 0 or day + 1 == days:
                print(f"day {day + 1:>4}: {sizes[-1] / 1e6:7.2f} MB", flush=True)
        seconds = time.monotonic() - started
        rows = {t: store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("calls", "alerts", "audit")}
        store.close()
    full = min(retention, days)
    per_day = sizes[full - 1] / full  # before any call was old enough to go
    implied = per_day * retention * MARGIN
    kept = sizes[-1]
    return {
        "bench": "retention",
        "days": days,
        "calls_per_day": calls,
        "retention_days": retention,
        "size_mb": round(kept / 1e6, 2),
        "max_size_mb": round(max(sizes) / 1e6, 2),
        "implied_mb": round(implied / 1e6, 2),
        "bytes_per_call": round(per_day / calls),
        "within": max(sizes) <= implied,
        "rows_kept": rows,
        "removed": removed,
        "seconds": round(seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--calls", type=int, default=300, help="calls a day")
    parser.add_argument("--retention-days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args()
    result = asyncio.run(run(args.days, args.calls, args.retention_days, args.seed))
    print(
        f"{args.days} days x {args.calls} calls, retention {args.retention_days} days: "
        f"{result['size_mb']} MB now, at most {result['max_size_mb']} MB, "
        f"retention implies {result['implied_mb']} MB ({result['bytes_per_call']} bytes a call with its share of "
        f"the rest); {'within' if result['within'] else 'OVER'}"
    )
    print(json.dumps(result))
    return 0 if result["within"] else 1


if __name__ == "__main__":
    sys.exit(main())
