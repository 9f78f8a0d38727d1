"""Memory: RSS growth ≤ 20 MB over 100,000 calls; the state of calls that never end expires.

How: in this process, no sockets: a real Tracker + Pipeline + AlertService + Store (temp SQLite file) fed
through `Pipeline.on_event`, with a fake clock. Calls are the simulator's realistic mix (answered, ring
groups, queues, missed, abandoned, outbound; Kazoo payloads, callers repeat as in the simulator's traffic)
started at `--rate` calls per virtual second, their events delivered in time order at their real offsets
(so hundreds of calls are in progress at once), and the pipeline flushed every 50 virtual ms as its run
loop would. `--unended` of the calls (1 % by default) never send their CHANNEL_DESTROYs: they must expire
(Tracker.expire_seconds = 4 h). 100,000 calls at 5 calls/s span 5.6 virtual hours, so expiry happens during
the run too. RSS (VmRSS) is read after a warm-up and after the measured calls (after gc.collect() both
times); then the clock jumps 4 h + 1 min and the calls still held must be 0. Stops by itself (~1.5 min).

    python bench/memory.py
    python bench/memory.py --calls 20000 --warmup 2000
"""

from __future__ import annotations

import argparse
import gc
import heapq
import itertools
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import quiet_logging, rss_mb, simulator  # noqa: E402

FLUSH_EVERY = 0.05  # virtual seconds, Pipeline.flush_interval
START_UNIX = 1_750_000_000.0  # virtual wall time of the first call (event timestamps)


def calls(sim: Any, rng: random.Random, rate: float, unended: float) -> Iterator[tuple[float, list, bool]]:
    """(virtual start, [(offset, name, payload)], ends?) for an endless stream of realistic calls."""
    from bot.devtools.simulator.scenarios import CallOptions, random_call

    t = 0.0
    while True:
        t += rng.expovariate(rate)
        scenario, opts = random_call(rng, sim.directory, speed=1.0)
        plan = sim.plan(scenario, CallOptions(**{**opts.__dict__, "speed": 1.0, "start": START_UNIX + t}))
        ends = rng.random() >= unended
        events = plan.events if ends else [e for e in plan.events if e[1] != "CHANNEL_DESTROY"]
        yield t, events, ends


def run(n_calls: int, warmup: int, rate: float, unended: float, seed: int) -> int:
    from bot.alerts.service import AlertService
    from bot.calls.pipeline import Pipeline
    from bot.calls.tracker import Tracker
    from bot.ops.metrics import Metrics, describe_ringbot
    from storage import Store

    quiet_logging()
    tmp = tempfile.TemporaryDirectory(prefix="ringbot-memory-")
    db = Path(tmp.name) / "memory.db"
    store = Store.open(db)
    clock = [0.0]
    tracker = Tracker(grace_seconds=2.0)
    pipeline = Pipeline(
        tracker,
        store,
        AlertService(store, default_channel="C0ALERTS"),
        metrics=describe_ringbot(Metrics()),
        clock=lambda: clock[0],
    )
    sim = simulator(seed=seed)
    source = calls(sim, random.Random(seed), rate, unended)
    pending: list[tuple[float, int, str, Any]] = []  # (virtual time, seq, name, payload) of calls in progress
    seq = itertools.count()
    next_flush = FLUSH_EVERY
    started = ended_never = 0
    peak_open = 0
    marks: dict[str, Any] = {}
    total = warmup + n_calls
    t_wall = time.perf_counter()
    next_call = next(source)
    while started < total or pending:
        # the next thing in virtual time: a call starting, or an event of a call in progress
        if started < total and (not pending or next_call[0] <= pending[0][0]):
            at, events, ends = next_call
            for offset, name, payload in events:
                heapq.heappush(pending, (at + offset, next(seq), name, payload))
            started += 1
            ended_never += not ends
            next_call = next(source)
            if started == warmup:
                marks["warm"] = _mark(pipeline, tracker, store, db)
            continue
        at, _, name, payload = heapq.heappop(pending)
        while next_flush <= at:  # the pipeline's run loop, every 50 ms
            clock[0] = next_flush
            pipeline.flush()
            next_flush += FLUSH_EVERY
            peak_open = max(peak_open, len(tracker))
        clock[0] = at
        pipeline.on_event(name, payload)
    clock[0] += 10.0
    pipeline.flush()  # the last calls' grace windows
    marks["end"] = _mark(pipeline, tracker, store, db)
    held_before_expiry = len(tracker)
    span_hours = clock[0] / 3600
    clock[0] += tracker.expire_seconds + 60
    pipeline.flush()
    marks["expired"] = _mark(pipeline, tracker, store, db)
    seconds = time.perf_counter() - t_wall
    store.close()

    warm, end, exp = marks["warm"], marks["end"], marks["expired"]
    growth = end["rss"] - warm["rss"]
    events = sum(pipeline.stats.events.values())
    print(
        f"memory — {warmup} warm-up + {n_calls} measured calls at {rate:g} calls/virtual s "
        f"({span_hours:.1f} virtual h), {events} events, {ended_never} calls that never end; "
        f"{seconds:.0f} s wall"
    )
    print(
        f"  RSS MiB: after warm-up {warm['rss']:.1f}, after {n_calls} more calls {end['rss']:.1f} "
        f"(growth {growth:+.1f}), after the 4 h expiry jump {exp['rss']:.1f}"
    )
    print(
        f"  calls in memory: peak {peak_open}, at the end {held_before_expiry} (never-ended calls younger than "
        f"4 h), after the jump {exp['open']}"
    )
    print(f"  tracker: {exp['tracker']}")
    print(
        f"  decisions {dict(pipeline.stats.decisions)}, errors {pipeline.stats.errors}, rejected "
        f"{pipeline.stats.rejected}"
    )
    print(
        f"  database: {end['db_mb']:.1f} MiB at the end (calls {end['calls']}, legs {end['legs']}, "
        f"alerts {end['alerts']}, outbox {end['outbox']})"
    )
    ok = growth <= 20 and exp["open"] == 0 and pipeline.stats.errors == 0
    print("  target RSS growth ≤ 20 MB over the measured calls, unended calls expire:", "met" if ok else "NOT met")
    tmp.cleanup()
    return 0 if ok else 1


def _mark(pipeline: Any, tracker: Any, store: Any, db: Path) -> dict[str, Any]:
    gc.collect()
    size = sum(os.path.getsize(p) for p in (db, Path(f"{db}-wal")) if p.exists()) / 2**20
    count = lambda table: store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    return {
        "rss": rss_mb(),
        "open": len(tracker),
        "tracker": tracker.stats(),
        "db_mb": size,
        "calls": count("calls"),
        "legs": count("legs"),
        "alerts": count("alerts"),
        "outbox": count("outbox"),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=100_000, help="measured calls (after the warm-up)")
    ap.add_argument("--warmup", type=int, default=5_000)
    ap.add_argument("--rate", type=float, default=5.0, help="calls per virtual second")
    ap.add_argument("--unended", type=float, default=0.01, help="share of calls whose DESTROYs never come")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    sys.exit(run(args.calls, args.warmup, args.rate, args.unended, args.seed))
