"""Burst: 500 missed calls in 10 s into ONE channel → 500 recorded, 0 lost, 0 duplicated, Slack never
over its limit (≤ 1 post/s sustained per channel, a small burst allowed).

How: the AntBuddy simulator (Socket.IO 4) and the fake Slack run in THIS process; the bot is the real
`ringbot run` in a child process with the real pacing (RINGBOT_CHANNEL_POSTS_PER_SECOND=1, outbox burst 3) and
the default 2 s grace. 500 `missed_cancel` calls from 500 distinct callers, all to the default channel, are
started at 50 calls/s. Then:
  * recorded / lost / duplicated from the bot's database: alerts (distinct call ids vs the 500 emitted),
    outbox `post` rows (pending, inflight or sent; none dead);
  * pacing, watched for `--watch` seconds from the first post (posting all 500 at 1/s takes ~8.5 min):
    most posts to the channel in any 1 s window (limit: the outbox burst of 3) and the sustained rate;
  * with `--full`, waits (≤ 12 min) until every alert is in Slack and counts distinct alert ids among the
    fake Slack's posts (metadata event_payload alert_id, kind "post"): lost and duplicated end to end;
  * how folding shows it: the summary message and the thread replies under it.

    python bench/burst.py                # bounded: ~1.5 min
    python bench/burst.py --full         # until all 500 are posted: ~9 min
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RingbotProcess, alert_meta, emit_missed_calls, quiet_logging, start_fakes, wait_until  # noqa: E402

CHANNEL = "C0ALERTS"
BURST_ALLOWANCE = 3  # the Outbox's default burst (bot/outbox/): tokens saved up per channel


def sustained_rate(times: list[float]) -> float:
    """Posts per second between the first and last post after the burst allowance was spent."""
    if len(times) <= BURST_ALLOWANCE + 1:
        return 0.0
    rest = times[BURST_ALLOWANCE:]
    return (len(rest) - 1) / (rest[-1] - rest[0])


async def run(calls: int, seconds: float, watch: float, full: bool) -> int:
    quiet_logging()
    sim, slack = await start_fakes(seed=5)
    tmp = tempfile.TemporaryDirectory(prefix="ringbot-burst-")
    bot = RingbotProcess(Path(tmp.name), sim.url, slack.url, {"RINGBOT_CHANNEL_POSTS_PER_SECOND": "1"})
    rate = calls / seconds
    q = bot.query
    try:
        bot.start()
        await bot.wait_streaming()
        callers = sim.fresh_numbers(calls)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        call_ids, sent_in = await emit_missed_calls(sim, callers, rate)
        emitted = set(call_ids)
        recorded_in_time = await wait_until(lambda: q("SELECT count(*) FROM alerts")[0][0] >= calls, 30, 0.2)
        recorded_at = loop.time() - t0
        await slack.wait_for(lambda: len(slack.posts(CHANNEL)) > 0, timeout=10)
        first_post = min((c.at for c in slack.posts(CHANNEL)), default=time.monotonic())
        await asyncio.sleep(max(0.0, first_post + watch - time.monotonic()))
        watched = slack.posts(CHANNEL)
        posted_all_in = None
        if full:

            def alerts_posted() -> int:
                return len(
                    {alert_meta(c).get("alert_id") for c in slack.posts(CHANNEL) if alert_meta(c).get("kind") == "post"}
                )

            if await slack.wait_for(lambda: alerts_posted() >= calls, timeout=12 * 60):
                posted_all_in = max(c.at for c in slack.posts(CHANNEL)) - first_post
            await asyncio.sleep(3)  # the summary's last count update, and anything that should not come
        alert_rows = q("SELECT call_id FROM alerts")
        outbox = dict(((k, s), n) for k, s, n in q("SELECT kind, status, count(*) FROM outbox GROUP BY kind, status"))
        dead = q("SELECT count(*) FROM outbox WHERE status = 'dead'")[0][0]
    finally:
        code = bot.stop()
        await slack.stop()
        await sim.stop()

    alert_ids = [r[0] for r in alert_rows]
    lost = len(emitted - set(alert_ids))
    duplicated = len(alert_ids) - len(set(alert_ids))
    post_rows = sum(n for (k, _), n in outbox.items() if k == "post")
    posts = slack.posts(CHANNEL)
    times = sorted(c.at for c in watched)
    print(
        f"burst — {calls} missed calls in {sent_in:.1f} s into one channel ({CHANNEL}); real pacing "
        f"(1 post/s, burst {BURST_ALLOWANCE}); grace 2 s; ringbot in a child process (exit code {code})"
    )
    print(
        f"  recorded {len(alert_ids)} alerts ({len(set(alert_ids))} distinct calls) {recorded_at:.1f} s after the "
        f"first call (in time: {recorded_in_time}); lost {lost}; duplicated {duplicated}"
    )
    print(
        f"  outbox rows {dict(sorted((f'{k}/{s}', n) for (k, s), n in outbox.items()))}; post rows {post_rows}; "
        f"dead {dead}"
    )
    print(
        f"  pacing over the first {watch:g} s of posting: {len(times)} posts, max in any 1 s "
        f"{slack.max_posts_per_window(CHANNEL, 1.0)} (allowed {BURST_ALLOWANCE}), max in any 10 s "
        f"{_max_window(times, 10.0)} (allowed {10 + BURST_ALLOWANCE - 1}), sustained {sustained_rate(times):.3f} "
        f"posts/s (allowed 1)"
    )
    kinds: dict[str, int] = {}
    for c in posts:
        kind = alert_meta(c).get("kind", "?")
        kinds[kind] = kinds.get(kind, 0) + 1
    alert_posts = [alert_meta(c).get("alert_id") for c in posts if alert_meta(c).get("kind") == "post"]
    print(
        f"  Slack posts so far by kind {kinds}; distinct alerts posted {len(set(alert_posts))}, posted twice "
        f"{len(alert_posts) - len(set(alert_posts))}"
    )
    if full:
        print(
            f"  --full: all {calls} alerts in Slack {posted_all_in:.0f} s after the first post"
            if posted_all_in
            else "  --full: NOT all alerts posted within 12 min"
        )
    _show_folding(slack)
    ok = (
        len(alert_ids) == calls
        and lost == 0
        and duplicated == 0
        and post_rows == calls
        and dead == 0
        and slack.max_posts_per_window(CHANNEL, 1.0) <= BURST_ALLOWANCE
        and sustained_rate(times) <= 1.0 + 1e-6
        and len(alert_posts) == len(set(alert_posts))
        and (not full or posted_all_in is not None)
    )
    print(f"  target {calls} recorded, 0 lost, 0 duplicated, Slack within its limit:", "met" if ok else "NOT met")
    tmp.cleanup()
    return 0 if ok else 1


def _max_window(times: list[float], window: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - window + 1e-9:
            j += 1
        best = max(best, i - j + 1)
    return best


def _show_folding(slack) -> None:
    """What a person sees in the channel: the plain first posts, the summary, replies in its thread."""
    posts = slack.posts(CHANNEL)
    summaries = [c for c in posts if alert_meta(c).get("kind") == "summary"]
    plain = [c for c in posts if not c.body.get("thread_ts") and alert_meta(c).get("kind") == "post"]
    print(f"  folding: {len(plain)} alert(s) posted plainly before the fold, {len(summaries)} summary message(s)")
    for s in summaries:
        ts = next((m.ts for m in slack.messages.values() if m.metadata == s.body.get("metadata")), None)
        msg = slack.messages.get((CHANNEL, ts)) if ts else None
        replies = [c for c in posts if c.body.get("thread_ts") == ts]
        print(f"    summary as posted : {s.body.get('text')!r}")
        if msg is not None:
            print(f"    summary now       : {msg.text!r} ({len(msg.history)} chat.update(s))")
        print(f"    thread replies    : {len(replies)}; first: {(replies[0].body.get('text') if replies else '')!r}")
    for c in plain[:1]:
        print(f"    a plain alert     : {c.body.get('text')!r}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10.0, help="spread the calls over this many seconds")
    ap.add_argument("--watch", type=float, default=60.0, help="seconds of posting to check the pacing on")
    ap.add_argument("--full", action="store_true", help="wait until every alert is posted (~9 min)")
    args = ap.parse_args()
    sys.exit(asyncio.run(run(args.calls, args.seconds, args.watch, args.full)))
