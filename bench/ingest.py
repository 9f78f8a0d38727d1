"""Ingest rate: the full pipeline vs a bare python-socketio client, on the same event stream.

What: events/s that (a) a bare `socketio.AsyncClient` subscribed to the three bindings receives, and (b) the
bot's `StreamClient` feeding a real `Pipeline` (real Tracker, Store on a temp SQLite file, AlertService with
its outbox rows written but not posted, Metrics) fully processes: normalised, tracked, legs persisted.
Target: (b) ≥ 80 % of (a), and ≥ 3,000 events/s.

How: the AntBuddy simulator (Socket.IO 4) runs in a CHILD process and pre-builds one fixed stream of N
realistic calls (the simulator's traffic mix: answered, ring groups, queues, missed, abandoned, outbound;
Kazoo payloads, all events of a call at once). On "go" it emits the whole list as fast as it can. The
client side runs in THIS process, one client at a time, on identical input, alternating a, b, a, b...
A rate is events / (last event handled − first event received), so connecting and subscribing are not
counted. For (b) "handled" is the pipeline flush that wrote the last buffered legs after the last event
arrived; the time at which every call was also decided (minus the grace window) is printed too.
Two processes because the server's JSON encoding and websocket writes would otherwise share one core
(and one event loop) with the client being measured.

    python bench/ingest.py                 # 10,000 calls (~70k events), 2 rounds
    python bench/ingest.py --calls 4000 --rounds 3

The last line of output is the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ACCOUNT_ID, APP_ID, APP_SECRET, quiet_logging, settings, simulator  # noqa: E402

BINDINGS = ("call.CHANNEL_CREATE.*", "call.CHANNEL_ANSWER.*", "call.CHANNEL_DESTROY.*")
GRACE = 0.2  # seconds; only delays decisions, which are reported apart from the ingest rate
RUN_TIMEOUT = 60.0  # one client run must finish within this


# ---- server side (child process) --------------------------------------------------------------------------
def build_stream(sim: Any, calls: int, seed: int) -> tuple[list[tuple[str, Any]], int]:
    """The fixed event list (name, payload) of `calls` realistic calls, and how many legs they have."""
    from bot.devtools.simulator.scenarios import CallOptions, random_call

    rng = random.Random(seed)
    events: list[tuple[str, Any]] = []
    legs = 0
    for _ in range(calls):
        scenario, opts = random_call(rng, sim.directory, speed=0.0)
        plan = sim.plan(scenario, CallOptions(**{**opts.__dict__, "speed": 0.0}))
        events.extend((name, payload) for _, name, payload in plan.events)
        legs += len(plan.leg_ids)
    return events, legs


async def serve(calls: int, seed: int) -> None:
    quiet_logging()
    sim = simulator(seed=seed)
    url = await sim.start()
    events, legs = build_stream(sim, calls, seed)
    print(json.dumps({"url": url, "events": len(events), "legs": legs, "calls": calls}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit = sim.stream.emit
    try:
        while True:
            line = (await reader.readline()).decode().strip()
            if line != "go":
                break
            t0 = time.perf_counter()
            delivered = 0
            for i, (name, payload) in enumerate(events):
                delivered += await emit(name, payload)
                if i % 200 == 199:
                    await asyncio.sleep(0)  # let the websocket writer run: a stream, not one giant buffer
            print(
                json.dumps({"emitted": len(events), "delivered": delivered, "seconds": time.perf_counter() - t0}),
                flush=True,
            )
    finally:
        await sim.stop()


# ---- client side (this process) ------------------------------------------------------------------------------
class Server:
    """The child process running the simulator; `go()` makes it emit the whole stream once."""

    def __init__(self, proc: asyncio.subprocess.Process, info: dict[str, Any]) -> None:
        self.proc, self.info = proc, info
        self.url: str = info["url"]

    @classmethod
    async def start(cls, calls: int, seed: int) -> Server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve",
            "--calls",
            str(calls),
            "--seed",
            str(seed),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        return cls(proc, json.loads(line))

    async def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()

    async def emitted(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        return json.loads(await asyncio.wait_for(self.proc.stdout.readline(), RUN_TIMEOUT))

    async def stream_to(self, http: Any, subscribes_before: int, done: asyncio.Event) -> dict[str, Any]:
        """Once the client under test has subscribed, emit the whole stream; return when `done` says it was handled."""
        await wait_subscribed(self, http, subscribes_before)
        await self.go()
        emitted = await self.emitted()
        await asyncio.wait_for(done.wait(), RUN_TIMEOUT)
        return emitted

    async def subscribes(self, http: Any) -> int:
        async with http.get(self.url + "/_sim/state") as r:
            return int((await r.json())["subscribes"])

    async def stop(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"quit\n")
            await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def fetch_token(http: Any, url: str) -> str:
    headers = {"x-auth-app-id": APP_ID, "x-auth-app-hash": hashlib.sha256((APP_ID + APP_SECRET).encode()).hexdigest()}
    async with http.post(url + "/oapi/v1/voice/auth_token", headers=headers) as r:
        return (await r.json())["value"]


async def wait_subscribed(server: Server, http: Any, before: int) -> None:
    deadline = time.monotonic() + 10
    while await server.subscribes(http) < before + len(BINDINGS):
        if time.monotonic() > deadline:
            raise RuntimeError("the client did not subscribe within 10 s")
        await asyncio.sleep(0.02)


async def run_bare(server: Server, http: Any) -> dict[str, Any]:
    """(a) A bare python-socketio client that only counts events."""
    import socketio

    expected = server.info["events"]
    st: dict[str, Any] = {"n": 0, "first": None, "last": None, "cpu0": None, "cpu1": None}
    done = asyncio.Event()

    def on_any(name: str, *args: Any) -> None:
        now = time.perf_counter()
        if st["first"] is None:
            st["first"], st["cpu0"] = now, time.process_time()
        st["n"] += 1
        if st["n"] >= expected:
            st["last"], st["cpu1"] = now, time.process_time()
            done.set()

    sio = socketio.AsyncClient(reconnection=False, logger=False, engineio_logger=False)
    sio.on("*", on_any)
    await sio.connect(server.url, transports=["websocket"], wait_timeout=10)
    try:
        before = await server.subscribes(http)
        token = await fetch_token(http, server.url)
        for binding in BINDINGS:
            await sio.emit("subscribe", {"account_id": ACCOUNT_ID, "auth_token": token, "binding": binding})
        emitted = await server.stream_to(http, before, done)
    finally:
        await sio.disconnect()
    seconds = st["last"] - st["first"]
    return {
        "events": st["n"],
        "seconds": seconds,
        "rate": st["n"] / seconds,
        "server": emitted,
        "cpu_us": (st["cpu1"] - st["cpu0"]) / st["n"] * 1e6,
    }


async def run_pipeline(server: Server, http: Any, workdir: Path, round_no: int) -> dict[str, Any]:
    """(b) The bot's StreamClient → Pipeline (normalise, track, persist legs, decide, store alerts)."""
    from bot.alerts.service import AlertService
    from bot.antbuddy import AntBuddyClient
    from bot.calls.pipeline import Pipeline
    from bot.calls.tracker import Tracker
    from bot.ops.metrics import Metrics, describe_ringbot
    from bot.stream.client import StreamClient
    from storage import Store

    expected, calls, legs = server.info["events"], server.info["calls"], server.info["legs"]
    cfg = settings(server.url, "http://127.0.0.1:9/api/", workdir / f"ingest-{round_no}.db")
    store = Store.open(cfg.db_path)
    tracker = Tracker(grace_seconds=GRACE)
    alerts = AlertService(store, default_channel=cfg.alert_channel, tz=cfg.tz)
    pipeline = Pipeline(tracker, store, alerts, metrics=describe_ringbot(Metrics()))
    antbuddy = AntBuddyClient.from_settings(cfg)
    st: dict[str, Any] = {"first": None, "flushed": None, "decided": None, "cpu0": None, "cpu1": None}
    done = asyncio.Event()
    stats = pipeline.stats

    def on_event(name: str, payload: Any) -> None:
        if st["first"] is None:
            st["first"], st["cpu0"] = time.perf_counter(), time.process_time()
        pipeline.on_event(name, payload)

    real_flush = pipeline.flush

    def flush(
        **kwargs: Any,
    ) -> Any:  # the pipeline's own flush, timed: when were the last legs written, the last call decided
        out = real_flush(**kwargs)
        written = pipeline.held() == (0, 0)  # nothing buffered: every leg and decision so far is in the database
        if st["flushed"] is None and written and sum(stats.events.values()) + stats.rejected >= expected:
            st["flushed"], st["cpu1"] = time.perf_counter(), time.process_time()
        if st["flushed"] is not None and st["decided"] is None and len(tracker) == 0:
            st["decided"] = time.perf_counter()
            done.set()
        return out

    pipeline.flush = flush  # type: ignore[method-assign]
    stream = StreamClient(
        url=server.url, account_id=ACCOUNT_ID, protocol="socketio", get_token=antbuddy.auth_token, on_event=on_event
    )
    tasks = [asyncio.create_task(pipeline.run()), asyncio.create_task(stream.run())]
    try:
        before = await server.subscribes(http)
        if not await stream.wait_connected(10):
            raise RuntimeError(f"stream client did not connect: {stream.stats.last_error}")
        emitted = await server.stream_to(http, before, done)
    finally:
        await stream.stop()
        await pipeline.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await antbuddy.aclose()
    processed = sum(stats.events.values()) + stats.rejected
    seconds = st["flushed"] - st["first"]
    result = {
        "events": processed,
        "seconds": seconds,
        "rate": processed / seconds,
        "cpu_us": (st["cpu1"] - st["cpu0"]) / processed * 1e6,
        "decided_seconds": st["decided"] - st["first"] - GRACE,
        "server": emitted,
        "legs_in_db": store.conn.execute("SELECT count(*) FROM legs").fetchone()[0],
        "legs": legs,
        "calls_in_db": store.conn.execute("SELECT count(*) FROM calls").fetchone()[0],
        "calls": calls,
        "decisions": dict(stats.decisions),
        "alert_actions": dict(stats.alert_actions),
        "rejected": stats.rejected,
        "errors": stats.errors,
        "tracker": tracker.stats(),
        "outbox": store.outbox_counts(),
    }
    store.close()
    return result


def _rate_line(round_no: int, label: str, run: dict[str, Any]) -> str:
    """One client's round, up to the server's emit time (the caller closes the parenthesis)."""
    return (
        f"  round {round_no} {label}: {run['events']:7d} events in {run['seconds']:6.2f} s = {run['rate']:8.0f} ev/s, "
        f"client CPU {run['cpu_us']:5.1f} µs/event   (server emitted in {run['server']['seconds']:.2f} s"
    )


async def main(calls: int, rounds: int, seed: int) -> int:
    import aiohttp

    quiet_logging()
    server = await Server.start(calls, seed)
    info = server.info
    print(
        f"ingest — {info['calls']} calls, {info['events']} events, {info['legs']} legs; simulator (Socket.IO 4, "
        f"Kazoo payloads) in a child process, clients in this one, one at a time"
    )
    bare: list[float] = []
    full: list[float] = []
    cpu_a: list[float] = []
    cpu_b: list[float] = []
    ok_integrity = True
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            with tempfile.TemporaryDirectory(prefix="ringbot-ingest-") as tmp:
                for r in range(1, rounds + 1):
                    a = await run_bare(server, http)
                    bare.append(a["rate"])
                    cpu_a.append(a["cpu_us"])
                    print(_rate_line(r, "(a) bare socketio client ", a) + ")", flush=True)
                    b = await run_pipeline(server, http, Path(tmp), r)
                    full.append(b["rate"])
                    cpu_b.append(b["cpu_us"])
                    print(
                        _rate_line(r, "(b) StreamClient+Pipeline", b)
                        + f"; all {b['calls']} calls decided at {b['decided_seconds']:.2f} s after the first event, "
                        "grace excluded)",
                        flush=True,
                    )
                    print(
                        f"      legs in db {b['legs_in_db']}/{b['legs']}, decisions {b['decisions']}, "
                        f"alert actions {b['alert_actions']}, rejected {b['rejected']}, errors {b['errors']}, "
                        f"outbox rows {b['outbox']}",
                        flush=True,
                    )
                    ok_integrity &= (
                        b["legs_in_db"] == b["legs"]
                        and b["rejected"] == 0
                        and b["errors"] == 0
                        and sum(b["decisions"].values()) == b["calls"]
                        and a["events"] == info["events"]
                    )
    finally:
        await server.stop()
    best_a, best_b = max(bare), max(full)
    mean_ratio = sum(fb / fa for fa, fb in zip(bare, full, strict=True)) / len(full)
    print(
        f"  best (a) {best_a:.0f} ev/s, best (b) {best_b:.0f} ev/s, ratio of bests {best_b / best_a:.1%}, "
        f"mean of per-round ratios {mean_ratio:.1%}"
    )
    print(
        f"  client CPU per event (least of the rounds): (a) {min(cpu_a):.1f} µs, (b) {min(cpu_b):.1f} µs — "
        f"CPU-bound capacity (b)/(a) = {min(cpu_a) / min(cpu_b):.1%}"
    )
    ok = best_b / best_a >= 0.8 and best_b >= 3000 and ok_integrity
    print(
        "  target (b) ≥ 80 % of (a) and ≥ 3,000 ev/s, every leg persisted and every call decided:",
        "met" if ok else "NOT met",
    )
    result = {
        "bench": "ingest",
        "calls": info["calls"],
        "events": info["events"],
        "rounds": rounds,
        "bare_rate": [round(r) for r in bare],
        "pipeline_rate": [round(r) for r in full],
        "ratio_of_bests": round(best_b / best_a, 3),
        "mean_ratio": round(mean_ratio, 3),
        "bare_cpu_us": round(min(cpu_a), 1),
        "pipeline_cpu_us": round(min(cpu_b), 1),
        "integrity": ok_integrity,
        "met": ok,
    }
    print(json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.calls, args.seed))
    else:
        sys.exit(asyncio.run(main(args.calls, args.rounds, args.seed)))
