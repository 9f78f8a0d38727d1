"""Queue health through the wire: the simulator's Socket.IO stream and dashboard, signed `/ring` requests, the fake
Slack. A queue with its agents paused fills up -> one warning message, edited to critical, then to recovered; a queue
flapping within the cool-down re-opens that message instead of posting another; in a Vietnamese channel it is
Vietnamese. Through a 429 storm (the outbox on a fake clock) a breach is posted once and edited, never re-posted.
`/ring queues` lists every queue with its members even with no calls today."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from bot.antbuddy import AntBuddyClient
from bot.antbuddy.directory import Directory
from bot.app import shutdown, start
from bot.devtools.fakeslack import FakeSlack, block_actions_body, sign, slash_command_body
from bot.devtools.simulator.directory import QUEUES
from bot.outbox import Outbox
from bot.queues.health import parse_thresholds
from bot.queues.queue_messages import queue_messages
from bot.slack.ids import ACTION_QUEUE_ON_IT
from storage import OutboxKind, Store
from storage.queues import QueueStore
from tests.conftest import SIGNING_SECRET, make_settings, runtime_settings
from tests.support.clock import FakeClock
from tests.support.waiting import eventually
from tests.wire.test_commands import ask, body_text

CSKH = QUEUES[0]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SPEED = 0.01  # real seconds per simulated second


async def sim(simulator: Any, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as http:
        r = await http.request(method, simulator.url + path, json=body)
        assert r.status_code == 200, r.text
        return r.json()


async def queue_call(simulator: Any, wait_seconds: int) -> None:
    """A caller who waits `wait_seconds` (simulated) in CSKH, then is answered."""
    body = {"scenario": "queue_answered", "queue_id": CSKH.name, "wait_seconds": wait_seconds, "speed": SPEED}
    await sim(simulator, "POST", "/_sim/calls", body)


def alert_posts(slack: FakeSlack) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage") if CSKH.name in str(c.body.get("text"))]


def message_text(slack: FakeSlack, ts: str) -> str:
    return slack.messages[("C0ALERTS", ts)].text


async def post_signed(port: int, body: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        r = await http.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers=sign(SIGNING_SECRET, body))
        assert r.status_code == 200, r.text


async def test_queue_alert_warns_turns_critical_recovers_and_flapping_posts_nothing_new(
    tmp_path: Path, simulator: Any, fake_slack: FakeSlack
) -> None:
    settings = runtime_settings(
        tmp_path,
        simulator,
        fake_slack,
        RINGBOT_DIGEST_AT="off",
        RINGBOT_QUEUE_COOLDOWN_SECONDS="600",
    )
    for ext in CSKH.exts:
        await sim(simulator, "PUT", f"/_sim/agents/{ext}", {"status": "paused"})
    rt = await start(settings, mode="http", install_signals=False)
    try:
        assert rt.jobs is not None and rt.jobs.keys("digest") == []  # RINGBOT_DIGEST_AT=off: no digest job
        assert await rt.stream.wait_connected(10)
        body = slash_command_body("watch CSKH waiting>=3 wait>=3s", user_id="UADMIN", channel_id="C0ALERTS",
                                  response_url=fake_slack.response_url("watch"))  # fmt: skip
        await post_signed(rt.http_port, body)
        set_line = await eventually(lambda: [c for c in fake_slack.calls if c.hook == "watch"], "the watch answer")
        assert "Watching *CSKH*: `waiting&gt;=3 wait&gt;=3s`" in set_line[0].body["text"]
        monitor = rt.deps.queues.alerts
        await eventually(lambda: monitor.ready.get(CSKH.queue_id) == 0, "the dashboard's paused agents")

        # three callers waiting (5 s each, real): one warning
        for _ in range(3):
            await queue_call(simulator, 500)
        await eventually(lambda: alert_posts(fake_slack), "the warning")
        ts = next(k[1] for k in fake_slack.messages if k[0] == "C0ALERTS")
        assert message_text(fake_slack, ts).startswith(":warning: *CSKH*: 3 waiting")
        assert "0 ready" in message_text(fake_slack, ts)
        # a fourth, and the longest wait passes 3 s: the same message turns critical
        await queue_call(simulator, 500)
        await eventually(lambda: message_text(fake_slack, ts).startswith(":rotating_light:"), "critical", timeout=8)
        assert "4 waiting" in message_text(fake_slack, ts)
        # "I'm on it" on the alert: the message says who
        click = block_actions_body(ACTION_QUEUE_ON_IT, str(monitor.tracked[CSKH.queue_id].breach_id),
                                   user_id="U0SUPER", channel_id="C0ALERTS", message_ts=ts,
                                   response_url=fake_slack.response_url("onit"))  # fmt: skip
        await post_signed(rt.http_port, click)
        await eventually(lambda: "U0SUPER" in str(fake_slack.messages[("C0ALERTS", ts)].blocks), "the owner shown")
        # every caller answered: the message says recovered, with the peak
        await eventually(lambda: "recovered after" in message_text(fake_slack, ts), "recovered", timeout=12)
        assert "peak 4 waiting" in message_text(fake_slack, ts)
        assert len(alert_posts(fake_slack)) == 1

        # flapping within the cool-down: the same message comes back, nothing new is posted
        for _ in range(3):
            await queue_call(simulator, 100)
        await eventually(lambda: "Breached again 1×" in str(fake_slack.messages[("C0ALERTS", ts)].blocks), "reopened")
        await eventually(lambda: "recovered after" in message_text(fake_slack, ts), "recovered again", timeout=8)
        assert len(alert_posts(fake_slack)) == 1
        history = [h["text"][:16] for h in fake_slack.messages[("C0ALERTS", ts)].history]
        assert any(t.startswith(":warning:") for t in history) and any(
            t.startswith(":rotating_light:") for t in history
        )
    finally:
        await shutdown(rt)


async def test_a_queue_alert_in_a_vietnamese_channel_is_vietnamese(
    tmp_path: Path, simulator: Any, fake_slack: FakeSlack
) -> None:
    settings = runtime_settings(
        tmp_path, simulator, fake_slack, RINGBOT_DIGEST_AT="off", RINGBOT_CHANNEL_LANGUAGES="C0ALERTS=vi"
    )
    for ext in CSKH.exts:
        await sim(simulator, "PUT", f"/_sim/agents/{ext}", {"status": "paused"})
    rt = await start(settings, mode="http", install_signals=False)
    try:
        assert await rt.stream.wait_connected(10)
        thresholds = parse_thresholds(["waiting>=2"])
        assert thresholds is not None
        rt.deps.queues.set_watch(CSKH.queue_id, CSKH.name, thresholds, by="UADMIN", is_admin=True)
        for _ in range(2):
            await queue_call(simulator, 500)
        posts = await eventually(lambda: fake_slack.posts("C0ALERTS"), "the queue alert")
        text = str(posts[0].body)
        assert f"*{CSKH.name}*: 2 khách đang chờ" in text and "Tôi xử lý" in text
        assert "waiting" not in posts[0].body["text"] and "I'm on it" not in text
    finally:
        await shutdown(rt)


class QueueRig:
    """The outbox with the queue kinds on a fake clock, and a breach changed the way QueueAlerts changes it."""

    def __init__(self, tmp_path: Path, fake: FakeSlack) -> None:
        self.fake = fake
        self.clock = FakeClock()
        self.store = Store.open(tmp_path / "ringbot.db", clock=self.clock)
        self.qstore = QueueStore(self.store)
        self.directory = Directory(AntBuddyClient.from_settings(make_settings(tmp_path, SLACK_API_URL=fake.url)))
        client = AsyncWebClient(token="xoxb-test", base_url=fake.url, retry_handlers=[], timeout=5)
        kinds = queue_messages(self.store, self.directory, tz=TZ, sla=20, clock=self.clock)
        self.outbox = Outbox(
            self.store,
            client,
            render=lambda alert: ("", []),
            kinds=dict(kinds),
            channel_language=lambda channel: "en",
            clock=self.clock,
            sleep=self.sleep,
        )
        self.breach_id: int | None = None

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await asyncio.sleep(0.001)

    def change(self, level: int, waiting: int) -> None:
        """One change of the breach: saved with what its message shows, and its outbox row, together."""
        with self.store.transaction():
            self.breach_id = self.qstore.save_breach(
                self.breach_id,
                {"queue_id": "q1", "channel": "C0ALERTS", "level": level, "reasons": "waiting",
                 "started_at": self.clock(), "peak_waiting": waiting,
                 "snapshot": {"queue": "CSKH", "waiting": waiting, "longest": 30.0, "ready": 0, "spec": "waiting>=3"}},
            )  # fmt: skip
            self.store.enqueue(OutboxKind.QUEUE_ALERT, "C0ALERTS", body={"breach_id": self.breach_id})


async def test_a_queue_alert_through_a_429_storm_is_posted_once_then_edited(tmp_path: Path, fake_slack) -> None:
    rig = QueueRig(tmp_path, fake_slack)
    try:
        fake_slack.fail("*", status=429, retry_after=5, count=8)  # every call refused for a while
        rig.change(1, 3)
        rig.change(2, 5)  # worse while the first post waits out Retry-After
        rig.change(2, 7)
        assert await rig.outbox.drain(timeout=20) == 1
        posts = fake_slack.calls_to("chat.postMessage")
        assert len(posts) == 1 and "7 waiting" in posts[0].body["text"]  # the state when it went out, once
        assert len(fake_slack.calls_to("chat.postMessage", ok_only=False)) > 1  # it was refused before
        assert rig.store.outbox_counts() == {"sent": 3}  # the three changes answered by one post
        ts = rig.qstore.breach(rig.breach_id or 0)["ts"]  # type: ignore[index]
        assert ts and ("C0ALERTS", ts) in fake_slack.messages
        fake_slack.fail("*", status=429, retry_after=5, count=4)
        rig.change(2, 9)
        rig.change(2, 11)
        assert await rig.outbox.drain(timeout=20) == 1
        assert len(fake_slack.calls_to("chat.postMessage")) == 1  # never posted again
        (edit,) = fake_slack.calls_to("chat.update")
        assert edit.body["ts"] == ts and "11 waiting" in fake_slack.messages[("C0ALERTS", ts)].text
    finally:
        await rig.directory.aclose()
        rig.store.close()


async def test_ring_queues_with_no_calls_today_lists_every_queue_with_its_members(bot_http: Any) -> None:
    await sim(bot_http.sim, "PUT", "/_sim/agents/101", {"status": "paused"})
    body = await ask(bot_http, "queues")
    text = body_text(body)
    for q in QUEUES:
        assert f"*{q.name}* — 0 waiting now" in text
    assert "Members: Nguyễn Văn An (paused), Trần Thị Bình (ready), Lê Văn Cường (connected)" in text
    assert "Võ Thị Hoa (logged out)" in text
    assert "Today: 0 offered" in text
    one = body_text(await ask(bot_http, "queues kinh doanh"))
    assert "*Kinh doanh*" in one and "*CSKH*" not in one
    unknown = await ask(bot_http, "queues nowhere")
    assert "There is no queue called nowhere" in unknown["text"]


async def test_watch_needs_an_admin_and_words_it_can_read(bot_http: Any) -> None:
    refused = await ask(bot_http, "watch CSKH waiting>=3")
    assert refused["text"].startswith("Only admins")
    bad = await ask(bot_http, "watch CSKH waiting>=lots", user="UADMIN")
    assert "Usage: `/ring watch" in body_text(bad)
    ok = await ask(bot_http, "watch Kinh doanh wait>=2m abandon>=30% noready", user="UADMIN")
    assert "Watching *Kinh doanh*: `wait&gt;=120s abandon&gt;=30% noready`" in ok["text"]
    listed = body_text(await ask(bot_http, "watches"))
    assert "*Kinh doanh*: `wait&gt;=120s abandon&gt;=30% noready` → <#C0ALERTS>" in listed
    off = await ask(bot_http, "watch Kinh doanh off", user="UADMIN")
    assert off["text"] == "No longer watching *Kinh doanh*."
    assert "No queue is watched" in (await ask(bot_http, "watches"))["text"]


async def test_stats_over_a_period_and_for_one_queue(bot_http: Any) -> None:
    from tests.wire.test_commands import add_call

    store = bot_http.deps.store
    add_call(store, "s-1", queue_id=CSKH.queue_id, outcome="answered", ring_seconds=10, talk_seconds=60)
    add_call(store, "s-2", queue_id=CSKH.queue_id, outcome="abandoned", ring_seconds=50)
    add_call(store, "s-3", queue_id=QUEUES[1].queue_id, outcome="missed", ring_seconds=30)
    await asyncio.sleep(0)
    text = body_text(await ask(bot_http, "stats 7d"))
    assert "*All queues*: 3 offered · 1 answered · 1 abandoned · 1 missed" in text
    assert "Top repeat callers: 0987654321 ×3" in text
    one = body_text(await ask(bot_http, "stats today CSKH"))
    assert "*CSKH*: 2 offered · 1 answered · 1 abandoned · 0 missed · answer rate 50% · service level 50%" in one
    assert "Kinh doanh" not in one
    assert "No calls recorded yesterday" in (await ask(bot_http, "stats yesterday"))["text"]


async def test_a_watch_set_while_another_program_holds_the_database_is_kept_and_said_plainly(bot_http: Any) -> None:
    holder = sqlite3.connect(bot_http.deps.settings.db_path, timeout=0, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a backup tool, an sqlite3 shell
    try:
        answer = await ask(bot_http, "watch CSKH waiting>=3", user="UADMIN")
    finally:
        holder.rollback()
        holder.close()
    assert answer["text"].startswith("Watching *CSKH*: `waiting&gt;=3`")
    assert answer["text"].endswith("\nSaved; it applies as soon as the database can be written.")
    assert bot_http.deps.store.flush_held()  # (the runtime does this every second)
    assert "*CSKH*: `waiting&gt;=3`" in body_text(await ask(bot_http, "watches"))  # not lost
