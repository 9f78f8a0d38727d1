"""/ring help ack while `/ring stats 30d` runs over 150,000 calls. Target: ack p99 ≤ 100 ms.

The real `ringbot run --mode http` in a child process (the tree given by --tree, this one by default), on a
database seeded with 30 days × 5,000 inbound calls; this process runs the AntBuddy simulator and the fake Slack,
sends a signed `/ring help` every 100 ms and times each HTTP response (the ack), while rounds of 4 concurrent
`/ring stats 30d` run back to back (a round starts when the last one's 4 answers reached response_url). Prints the
figures, then one JSON line. Stops by itself.

    python bench/stats_load.py                       # 150,000 calls, 20 s of load
    python bench/stats_load.py --seconds 10 --calls 50000
    python bench/stats_load.py --tree /path/to/other/checkout   # the same load against another tree
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

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, SIGNING_SECRET, RingbotProcess, percentile, quiet_logging, start_fakes  # noqa: E402

from bot.alerts.reconcile import RECORDS_SINCE_KEY  # noqa: E402
from bot.devtools.fakeslack import sign, slash_command_body  # noqa: E402
from storage import Store  # noqa: E402

DAY = 86400.0
OUTCOMES = ("answered",) * 7 + ("missed", "missed", "abandoned")


def seed(path: Path, calls: int, *, days: int = 30) -> None:
    """`calls` inbound calls spread over the last `days` days, five queues, 20,000 callers; the records marked as
    complete from before them (so /ring stats reads no history)."""
    store = Store.open(path)
    now = time.time()
    rnd = random.Random(7)
    rows = []
    for n in range(calls):
        caller = f"09{rnd.randrange(20_000):08d}"
        started = now - rnd.random() * (days - 0.5) * DAY
        outcome, queue = rnd.choice(OUTCOMES), f"queue-{rnd.randrange(5)}"
        rows.append((f"bench-{n}", "inbound", outcome, queue, started, rnd.randint(0, 90), caller, f"+84{caller[1:]}"))
    store.conn.executemany(
        """INSERT INTO calls(call_id, direction, outcome, queue_id, started_at, ring_seconds, customer_number,
           customer_key) VALUES (?,?,?,?,?,?,?,?)""",
        rows,
    )
    store.conn.commit()
    store.set_meta(RECORDS_SINCE_KEY, f"{now - (days + 1) * DAY:.3f}")
    store.close()


async def scrape(http: aiohttp.ClientSession, port: int, name: str) -> float | None:
    """One value of the bot's /metrics (None when it does not export it)."""
    async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
        for line in (await r.text()).splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return None


async def run(calls: int, seconds: float, stats: int, interval: float, tree: Path) -> int:
    quiet_logging()
    sim, slack = await start_fakes(seed=1)
    tmp = tempfile.TemporaryDirectory(prefix="ringbot-bench-")
    bot = RingbotProcess(Path(tmp.name), sim.url, slack.url, extra_env={"PYTHONPATH": str(tree)})
    started = time.perf_counter()
    seed(bot.db_path, calls)
    seeded = time.perf_counter() - started
    acks: list[float] = []
    during: list[float] = []  # acks sent while at least one /ring stats was unanswered
    statuses: dict[str, int] = {}
    answers: list[float] = []  # seconds from sending a /ring stats to its answer on response_url
    unanswered: list[str] = []
    lag: float | None = None
    busy = 0
    try:
        bot.start()
        await bot.wait_streaming()
        url = f"http://127.0.0.1:{bot.port}/slack/events"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:

            async def post(text: str, hook: str) -> float:
                body = slash_command_body(text, user_id="U0BENCH", response_url=slack.response_url(hook))
                t0 = time.perf_counter()
                async with http.post(url, data=body.encode(), headers=sign(SIGNING_SECRET, body)) as resp:
                    await resp.read()
                statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
                return (time.perf_counter() - t0) * 1000

            def answered(hook: str) -> bool:
                return any(c.method == "response_url" and c.hook == hook for c in slack.calls)

            await post("help", "warm")  # Bolt's lazy auth.test on the first request: not counted
            await post("stats 30d", "warm-stats")  # and the first stats' imports
            await slack.wait_for(lambda: answered("warm-stats"), timeout=60)

            async def one_help() -> None:
                nonlocal busy
                loaded = busy > 0
                ms = await post("help", "help")
                acks.append(ms)
                if loaded:
                    during.append(ms)

            async def one_stats(hook: str) -> None:
                nonlocal busy
                busy += 1
                t0 = time.perf_counter()
                try:
                    await post("stats 30d", hook)
                    if await slack.wait_for(lambda: answered(hook), timeout=60):
                        answers.append(time.perf_counter() - t0)
                    else:
                        unanswered.append(hook)
                finally:
                    busy -= 1

            async def load_stats(stop_at: float) -> None:
                round_ = 0
                while time.perf_counter() < stop_at:
                    await asyncio.gather(*(one_stats(f"stats-{round_}-{i}") for i in range(stats)))
                    round_ += 1

            stop_at = time.perf_counter() + seconds
            stats_task = asyncio.create_task(load_stats(stop_at))
            helps: list[asyncio.Task[None]] = []
            t0 = time.perf_counter()
            while time.perf_counter() < stop_at:
                helps.append(asyncio.create_task(one_help()))
                await asyncio.sleep(max(0.0, t0 + len(helps) * interval - time.perf_counter()))
            await asyncio.gather(*helps, stats_task)
            lag = await scrape(http, bot.port, "ringbot_event_loop_lag_seconds")
            text = next((c.body.get("text") or "" for c in slack.calls if (c.hook or "").startswith("stats-")), "")
    finally:
        bot.stop()
        logs = bot.logs()
        await slack.stop()
        await sim.stop()
        tmp.cleanup()

    blocked = [line for line in logs.splitlines() if "event loop blocked" in line]
    p50, p99 = percentile(acks, 50), percentile(acks, 99)
    print(f"/ring help ack while {stats} × /ring stats 30d run — {calls:,} calls (seeded in {seeded:.1f} s), "
          f"tree {tree}")  # fmt: skip
    print(f"  /ring help every {interval * 1000:.0f} ms for {seconds:g} s: {len(acks)} acks, HTTP {statuses}")
    print(f"  ack ms: p50 {p50:.1f}   p99 {p99:.1f}   max {max(acks):.1f}")
    if during:
        print(
            f"  while a stats ran ({len(during)}): p50 {percentile(during, 50):.1f}   p99 {percentile(during, 99):.1f}"
        )
    if answers:
        print(f"  /ring stats 30d answered: {len(answers)}; seconds to the answer p50 {percentile(answers, 50):.2f}"
              f"   max {max(answers):.2f}")  # fmt: skip
    if unanswered:
        print(f"  /ring stats 30d NOT answered within 60 s: {len(unanswered)}")
    print(f"  the answer begins: {text[:70]!r}")
    print(f"  ringbot_event_loop_lag_seconds at the end: {lag}; 'event loop blocked' log lines: {len(blocked)}")
    for line in blocked[:3]:
        print(f"    {line[:200]}")
    ok = p99 <= 100 and bool(answers) and not unanswered
    print("  target p99 ≤ 100 ms:", "met" if ok else "NOT met")
    print(json.dumps({
        "bench": "stats_load", "calls": calls, "seconds": seconds, "stats_concurrent": stats, "acks": len(acks),
        "ack_ms_p50": round(p50, 1), "ack_ms_p99": round(p99, 1), "ack_ms_max": round(max(acks), 1),
        "ack_ms_p99_during_stats": round(percentile(during, 99), 1) if during else None,
        "stats_answered": len(answers), "stats_unanswered": len(unanswered),
        "stats_s_p50": round(percentile(answers, 50), 3) if answers else None,
        "stats_s_max": round(max(answers), 3) if answers else None, "loop_lag_s": lag, "blocked_lines": len(blocked),
        "target_met": ok,
    }))  # fmt: skip
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=150_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the load runs")
    parser.add_argument("--stats", type=int, default=4, help="/ring stats 30d run at once")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between two /ring help")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose ringbot runs")
    args = parser.parse_args()
    return asyncio.run(
        asyncio.wait_for(run(args.calls, args.seconds, args.stats, args.interval, args.tree.resolve()), timeout=600)
    )


if __name__ == "__main__":
    sys.exit(main())
