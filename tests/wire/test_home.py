"""App Home and the Directory cache, over real HTTP: `app_home_opened` (a signed event) -> views.publish on the
fake Slack; the Directory's cache, single flight and deadline against the simulator."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.antbuddy import AntBuddyClient
from bot.antbuddy.directory import Directory
from bot.devtools.fakeslack import event_body
from tests.conftest import APP_SECRET

DEADLINE = 5.0


def view_text(view: dict) -> str:
    parts = []
    for b in view.get("blocks") or []:
        if b.get("type") in ("section", "header"):
            parts.append(b["text"]["text"])
        elif b.get("type") == "context":
            parts += [e.get("text", "") for e in b["elements"]]
    return "\n".join(parts)


async def open_home(ring, user: str) -> dict:
    before = len(ring.slack.calls_to("views.publish"))
    resp = await ring.post(
        event_body(
            {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0HOME",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            }
        )
    )
    assert resp.status_code == 200, resp.text
    assert await ring.slack.wait_for(lambda: len(ring.slack.calls_to("views.publish")) > before, DEADLINE)
    call = ring.slack.calls_to("views.publish")[before]
    assert call.body["user_id"] == user
    return call.body["view"]


async def test_home_shows_device_open_missed_calls_and_live_queues(bot_http):
    store = bot_http.deps.store
    store.save_link("UAN", "user_an101", "encrypted-not-a-password")
    store.insert_call(
        {
            "call_id": "home-1",
            "direction": "inbound",
            "outcome": "missed",
            "customer_number": "0987654321",
            "customer_key": "+84987654321",
            "started_at": time.time() - 60,
        }
    )
    store.create_alert(
        {
            "call_id": "home-1",
            "customer_number": "0987654321",
            "customer_key": "+84987654321",
            "outcome": "missed",
            "channel": "C0ALERTS",
            "ts": "1700000000.000200",
        }
    )
    view = await open_home(bot_http, "UAN")
    text = view_text(view)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert "*Your phone:* `user_an101`" in text
    assert "0987 654 321" in text and "open alert" in text
    assert "*All queues* — waiting now *" in text


async def test_home_for_an_unlinked_user_with_antbuddy_down_says_both(bot_http):
    resp = await bot_http.http.post(f"{bot_http.sim.url}/_sim/faults", json={"count": -1, "status": 503})
    assert resp.status_code == 200
    view = await open_home(bot_http, "UNEW")
    text = view_text(view)
    assert "not linked" in text and "/ring link" in text
    assert "AntBuddy is busy (rate limited)" in text or "AntBuddy did not answer" in text


async def test_messages_tab_publishes_nothing(bot_http):
    resp = await bot_http.post(
        event_body(
            {
                "type": "app_home_opened",
                "user": "UAN",
                "channel": "D0HOME",
                "tab": "messages",
                "event_ts": f"{time.time():.6f}",
            }
        )
    )
    assert resp.status_code == 200
    await asyncio.sleep(0.3)  # the window in which a wrong publish would have happened
    assert bot_http.slack.calls_to("views.publish") == []


# -- Directory against the simulator ---------------------------------------------------------------------
@pytest.fixture
async def antbuddy(simulator):
    client = AntBuddyClient(
        base_url=simulator.url,
        app_id="test-app",
        app_secret=APP_SECRET,
        domain="demo.antbuddy.local",
        email="admin@demo.vn",
        retries=0,
        timeout=15,
    )
    try:
        yield client
    finally:
        await client.aclose()


async def test_directory_shares_one_request_among_concurrent_callers_and_caches_it(simulator, antbuddy):
    directory = Directory(antbuddy, ttl=60)
    before = simulator.rest_requests
    results = await asyncio.gather(*(directory.dashboard() for _ in range(20)))
    assert all(r is results[0] for r in results)
    await directory.dashboard()
    assert simulator.rest_requests - before == 1 and directory.fetches == {"dashboard": 1}


async def test_directory_refetches_after_its_ttl(simulator, antbuddy):
    now = [0.0]
    directory = Directory(antbuddy, ttl=5, clock=lambda: now[0])
    await directory.agents()
    now[0] = 4.9
    await directory.agents()
    now[0] = 5.1
    await directory.agents()
    assert directory.fetches == {"agents": 2}


async def test_directory_gives_up_at_its_deadline_and_the_next_caller_reuses_the_late_answer(simulator, antbuddy):
    resp_delay = 0.6
    simulator.faults.count, simulator.faults.delay, simulator.faults.status = 1, resp_delay, None
    directory = Directory(antbuddy, ttl=60, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await directory.queues()
    assert time.monotonic() - started < 0.5
    deadline = time.monotonic() + DEADLINE
    while directory.queue_name(simulator.directory.queues[0].queue_id) is None:  # the shared request finishes
        assert time.monotonic() < deadline, "the late answer never arrived"
        await asyncio.sleep(0.02)
    assert directory.queue_name(simulator.directory.queues[0].queue_id) == "CSKH"
    await directory.queues()  # cached now: no second request
    assert directory.fetches == {"queues": 1}


async def test_directory_failure_reaches_every_waiter_and_is_not_cached(simulator, antbuddy):
    from bot.antbuddy import ApiError

    simulator.faults.count, simulator.faults.status, simulator.faults.delay = 1, 500, 0.0
    directory = Directory(antbuddy, ttl=60)
    results = await asyncio.gather(*(directory.dashboard() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, ApiError) for r in results)
    assert (await directory.dashboard()).agents  # the fault is spent: a fresh request succeeds
    assert directory.fetches == {"dashboard": 2}


async def test_refresh_queues_never_raises(simulator, antbuddy):
    simulator.faults.count, simulator.faults.status, simulator.faults.delay = 1, 500, 0.0
    directory = Directory(antbuddy)
    await directory.refresh_queues()
    assert directory.queue_name("anything") is None
    await directory.refresh_queues()
    assert directory.queue_name(simulator.directory.queues[1].queue_id) == "Kinh doanh"
