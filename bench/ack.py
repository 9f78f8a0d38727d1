"""/ring ack latency while AntBuddy takes 5 s to answer. Target: p99 ≤ 100 ms.

One process runs the AntBuddy simulator with every REST answer delayed, the fake Slack, and the bot's HTTP mode
(Bolt at /slack/events) on one event loop, as in production; a child process sends N signed `/ring queues`
requests, C at a time, and times each HTTP response (the ack). Then we wait (bounded) for the answers on
response_url. Stops by itself.

    python bench/ack.py                      # 500 requests, concurrency 20, AntBuddy delay 5 s
    python bench/ack.py -n 200 -c 50 --delay 2
    python bench/ack.py --no-gc-freeze       # without the gc.freeze() that `ringbot run` does after start-up
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SIGNING_SECRET, percentile, settings, start_fakes  # noqa: E402

from bot.app import build_bolt, build_deps  # noqa: E402
from bot.devtools.fakeslack import sign, slash_command_body  # noqa: E402
from bot.slack.app import build_slack_client, start_http  # noqa: E402


async def run(requests: int, concurrency: int, delay: float, answer_wait: float, freeze: bool = False) -> int:
    sim, slack = await start_fakes(rest_delay=delay, seed=1)
    tmp = tempfile.TemporaryDirectory(prefix="ringbot-bench-")
    cfg = settings(sim.url, slack.url, Path(tmp.name) / "bench.db")
    client = build_slack_client(cfg.slack_bot_token, cfg.slack_api_url)
    deps = build_deps(cfg, slack_client=client)
    bolt = build_bolt(deps, client, signing_secret=cfg.slack_signing_secret)
    runner, port = await start_http(bolt, "127.0.0.1", 0, signing_secret=cfg.slack_signing_secret)
    if freeze:  # what the bot could do after start-up: keep long-lived objects out of full GC passes
        gc.collect()
        gc.freeze()
    url = f"http://127.0.0.1:{port}/slack/events"

    try:
        # The load comes from a child process so its own CPU does not queue up on the bot's event loop.
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client",
            url,
            "--webhook",
            slack.response_url("bench"),
            "-n",
            str(requests),
            "-c",
            str(concurrency),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(child.communicate(), timeout=60 + requests * 0.2)
        result = json.loads(out.decode().strip().splitlines()[-1])
        ms, statuses, wall, cold = result["ms"], result["statuses"], result["wall"], result["cold"]
        answered = lambda: len([c for c in slack.calls if c.method == "response_url"])  # noqa: E731
        await slack.wait_for(lambda: answered() >= requests + 1, timeout=answer_wait)
        texts: dict[str, int] = {}
        for c in slack.calls:
            if c.method == "response_url":
                key = (c.body.get("text") or "")[:60]
                texts[key] = texts.get(key, 0) + 1
    finally:
        await deps.directory.aclose()
        await runner.cleanup()
        await deps.antbuddy.aclose()
        deps.store.close()
        await slack.stop()
        sim.faults.count = 0
        await asyncio.wait_for(sim.stop(), timeout=delay + 10)
        tmp.cleanup()

    print(
        f"/ring queues ack latency — {requests} signed requests, concurrency {concurrency}, "
        f"AntBuddy REST delay {delay:g} s{', gc.freeze() after start-up' if freeze else ''}"
    )
    print(f"  HTTP statuses: {statuses}   wall: {wall:.2f} s   ({requests / wall:.0f} req/s)")
    print(
        f"  ack ms: p50 {percentile(ms, 50):.1f}   p99 {percentile(ms, 99):.1f}   max {max(ms):.1f}   "
        f"mean {statistics.fmean(ms):.1f}   (first request, not counted: {cold:.1f})"
    )
    print(
        f"  answers on response_url: {answered()} / {requests + 1}; AntBuddy REST requests: {sim.rest_requests}"
        f" (Directory fetches: {deps.directory.fetches})"
    )
    print(f"  the 10 slowest acks were requests #{sorted(result['slowest'])} (0-based, in sending order)")
    for text, n in sorted(texts.items(), key=lambda kv: -kv[1]):
        print(f"    {n:4d} × {text!r}")
    ok = statuses.get("200", 0) == requests and percentile(ms, 99) <= 100
    print("  target p99 ≤ 100 ms:", "met" if ok else "NOT met")
    return 0 if ok else 1


async def load(url: str, webhook: str, requests: int, concurrency: int) -> dict:
    """The client side: N signed `/ring queues` POSTs, C in flight; each one timed to its HTTP response."""
    gate = asyncio.Semaphore(concurrency)
    ms: list[float] = []
    order: list[int] = []  # request numbers, in the order their acks came back
    statuses: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def post(i: int) -> tuple[float, int]:
            body = slash_command_body("queues", user_id=f"U{i % 50:04d}", response_url=f"{webhook}-{i}")
            headers = sign(SIGNING_SECRET, body)
            started = time.perf_counter()
            async with http.post(url, data=body.encode(), headers=headers) as resp:
                await resp.read()
            return (time.perf_counter() - started) * 1000, resp.status

        async def one(i: int) -> None:
            async with gate:
                took, status = await post(i)
                ms.append(took)
                order.append(i)
                statuses[str(status)] = statuses.get(str(status), 0) + 1

        cold, _ = await post(-1)  # the bot's first request pays Bolt's lazy auth.test: reported apart
        wall = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        wall = time.perf_counter() - wall
    slowest = sorted(range(len(ms)), key=lambda k: -ms[k])[:10]
    return {"ms": ms, "statuses": statuses, "wall": wall, "cold": cold, "slowest": [order[k] for k in slowest]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=500)
    parser.add_argument("-c", "--concurrency", type=int, default=20)
    parser.add_argument("--delay", type=float, default=5.0, help="seconds AntBuddy takes per REST answer")
    parser.add_argument("--answer-wait", type=float, default=20.0, help="how long to wait for the answers")
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="skip the gc.freeze() that `ringbot run` does after start-up (shows what GC pauses cost)",
    )
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # the child process's mode
    parser.add_argument("--webhook", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.client:
        result = asyncio.run(
            asyncio.wait_for(
                load(args.client, args.webhook, args.requests, args.concurrency), timeout=60 + args.requests * 0.2
            )
        )
        print(json.dumps(result))
        return 0
    return asyncio.run(
        asyncio.wait_for(
            run(args.requests, args.concurrency, args.delay, args.answer_wait, not args.no_gc_freeze),
            timeout=args.answer_wait + args.requests * 0.5 + 60,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
