"""Every missed call gets an owner, through signed Slack requests into the bot's HTTP endpoint and the outbox
posting to the fake Slack: I'll take it / Release / Reassign, escalation on a fake clock, business hours and the
overnight digest, short hang-ups, and the alert in the DM of the person rung kept in sync with the channel's."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.alerts.service import AlertService
from bot.app import alert_renderer, build_jobs, outbox_kinds
from bot.calls.classify import CallDecision, Outcome
from bot.ops.scheduled import Jobs
from bot.outbox import Outbox
from bot.outbox.recovery import message_metadata
from bot.slack.i18n import ChannelLanguages
from bot.slack.ids import ACTION_CALLBACK, ACTION_REASSIGN, ACTION_RELEASE, ACTION_TAKE, VIEW_REASSIGN
from bot.slack.text import say
from storage import Store
from storage.jobs import JobTable
from tests.support.clock import FakeClock
from tests.support.rows import count_rows, outbox_row
from tests.wire.link_support import eventually, link_via_modal, set_device, wait_reply

AN, BINH, ADMIN = "U0AN", "U0BINH", "UADMIN"
AN_SIP, AN_PW = "sip_an_201", "an-pw-201"
CHANNEL = "C0ALERTS"


def stored(own: Own) -> dict[str, tuple[str, float, dict[str, Any]]]:
    """The stored jobs, key -> (kind, due time, arguments)."""
    rows = [JobTable(own.store).get(key) for key in own.jobs.keys()]
    return {r["key"]: (r["kind"], r["due_at"], json.loads(r["args"])) for r in rows if r}


async def run_again(own: Own, kind: str, when: float, args: dict[str, Any]) -> list[str]:
    """The same job once more (a restart that replayed it, a duplicate), through the runner."""
    own.jobs.at(kind, when, key="again", **args)
    return await own.jobs.run_due(own.clock())


@dataclass
class Own:
    ring: Any
    clock: FakeClock
    jobs: Jobs
    outbox: Outbox

    @property
    def store(self) -> Store:
        return self.ring.deps.store

    @property
    def alerts(self) -> AlertService:
        return self.ring.deps.alerts

    async def drain(self) -> None:
        await self.outbox.drain(timeout=10)

    def message(self, alert_id: int) -> Any:
        alert = self.store.get_alert(alert_id)
        assert alert and alert["ts"], "the alert was posted"
        return self.ring.slack.messages[(alert["channel"], alert["ts"])]

    def replies(self, alert_id: int) -> list[Any]:
        ts = self.store.get_alert(alert_id)["ts"]
        return [m for m in self.ring.slack.messages.values() if m.thread_ts == ts]

    def make_outbox(self, **kw: Any) -> Outbox:
        """An outbox as bot/app.py builds it (the alert kinds, the channel's and the person's language)."""
        deps = self.ring.deps
        return Outbox(
            deps.store,
            deps.slack,
            render=alert_renderer(deps),
            kinds=outbox_kinds(deps),
            channel_language=deps.channel_languages.of,
            person_language=deps.languages.of,
            rate_per_second=100,
            burst=100,
            updates_per_minute=6000,
            update_rate_per_channel=100,
            backoff_base=0.01,
            backoff_cap=0.05,
            **kw,
        )

    def outbox_on_its_own_clock(self) -> Outbox:
        """An outbox whose waits (Slack's backoff, a channel's pause after failures) pass at once on a clock of
        its own, so an outage of a minute takes no time and the alert service's clock stays where the test set it."""
        clock = FakeClock(time.time())

        async def sleep(seconds: float) -> None:
            clock.advance(seconds)
            await asyncio.sleep(0.001)

        return self.make_outbox(clock=clock, sleep=sleep)


def text_of(blocks: list[dict[str, Any]]) -> str:
    """Every word a person reads in the blocks (sections, contexts, buttons), one string."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        for e in b.get("elements") or []:
            out.append(e.get("text", {}).get("text", "") if isinstance(e.get("text"), dict) else e.get("text", ""))
        if isinstance(b.get("accessory"), dict):
            out.append(b["accessory"]["text"]["text"])
    return "\n".join(out)


def decision(n: int, at: datetime, *, number: str = "0987654321", ring_seconds: int = 25, **kw: Any) -> CallDecision:
    base: dict[str, Any] = dict(
        call_id=f"call-{n}",
        outcome=Outcome.MISSED,
        customer_number=number,
        dialled="02873019555",
        queue_id=None,
        started_at=at,
        ended_at=at + timedelta(seconds=ring_seconds),
        ring_seconds=ring_seconds,
        talk_seconds=0,
        hangup_cause="ORIGINATOR_CANCEL",
        agents_rung=("an", "binh"),
    )
    base.update(kw)
    return CallDecision(**base)


@pytest.fixture
async def own(ring) -> Any:
    """The bot's HTTP endpoint plus its outbox against the fake Slack; the alert service on a fake clock that
    starts now, the escalation and digest jobs stored and run by the real runner when the test moves the clock."""
    deps = ring.deps
    clock = FakeClock(time.time())
    outboxes: list[Outbox] = []
    deps.alerts = AlertService(
        deps.store,
        default_channel=deps.settings.alert_channel,
        clock=clock,
        wake=lambda: outboxes[0].wake() if outboxes else None,
        tz=deps.settings.tz,
        queue_name=deps.directory.queue_name,
    )
    jobs = build_jobs(deps, AsyncIOScheduler(timezone="UTC"), clock=clock)
    own = Own(ring, clock, jobs, cast(Outbox, None))
    own.outbox = own.make_outbox()
    outboxes.append(own.outbox)
    return own


def now_local(own: Own) -> datetime:
    return datetime.fromtimestamp(own.clock(), own.alerts.tz)


async def click(own: Own, action: str, alert_id: int, user: str) -> None:
    resp = await own.ring.action(action, str(alert_id), user=user, channel=CHANNEL)
    assert resp.status_code == 200, resp.text


# -- claim, release, reassign ----------------------------------------------------------------------------------
async def test_take_release_and_reassign_update_the_message_and_survive_a_restart(own, tmp_path) -> None:
    own.alerts.handle_decision(decision(1, now_local(own)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    assert "I'll take it" in text_of(own.message(alert_id).blocks)

    await click(own, ACTION_TAKE, alert_id, AN)
    await eventually(lambda: own.alerts.owners.get(alert_id)["owner"] == AN, "AN owns it")
    await own.drain()
    shown = text_of(own.message(alert_id).blocks)
    assert f"Owned by <@{AN}> since" in shown and "Release" in shown and "I'll take it" not in shown

    await click(own, ACTION_TAKE, alert_id, BINH)  # someone else's: refused, in words, to BINH only
    assert "<@U0AN> already owns this missed call" in await wait_reply(own.ring, 1)
    await click(own, ACTION_RELEASE, alert_id, BINH)
    assert "Only <@U0AN>, who owns this missed call, or an admin can release it." in await wait_reply(own.ring, 2)
    assert own.alerts.owners.get(alert_id)["owner"] == AN

    # "Restart": another process opens the same database; nothing about the owner lived in memory.
    restarted = Store.open(tmp_path / "ringbot.db")
    try:
        again = AlertService(restarted, default_channel=CHANNEL, tz=own.alerts.tz)
        assert again.owners.get(alert_id)["owner"] == AN
        text, _blocks = again.renderer()(restarted.get_alert(alert_id))
        assert f"Owned by <@{AN}>" in text_of(_blocks)
    finally:
        restarted.close()

    await click(own, ACTION_RELEASE, alert_id, AN)
    await eventually(lambda: own.alerts.owners.get(alert_id)["owner"] is None, "released")
    await own.drain()
    assert "I'll take it" in text_of(own.message(alert_id).blocks)

    await click(own, ACTION_REASSIGN, alert_id, AN)  # not an admin: told who can, no dialog
    assert "Only an admin can reassign" in await wait_reply(own.ring, 3)
    assert not own.ring.slack.calls_to("views.open")
    await click(own, ACTION_REASSIGN, alert_id, ADMIN)
    await own.ring.slack.wait_for(lambda: own.ring.slack.calls_to("views.open"))
    [opened] = own.ring.slack.calls_to("views.open")
    assert opened.body["view"]["callback_id"] == VIEW_REASSIGN
    values = {"owner": {"owner": {"type": "users_select", "selected_user": BINH}}}
    resp = await own.ring.view(VIEW_REASSIGN, values, user=ADMIN, private_metadata=str(alert_id))
    assert resp.status_code == 200 and not resp.text.strip("{}"), resp.text  # accepted: no field errors
    await own.drain()
    assert f"Owned by <@{BINH}>" in text_of(own.message(alert_id).blocks)
    trail = [(a["action"], a["result"], a["slack_user"]) for a in own.store.audit(alert_id=alert_id)]
    assert trail == [  # newest first; the refusals are kept too
        ("reassign", "ok", ADMIN),
        ("reassign", "refused", AN),
        ("release", "ok", AN),
        ("release", "refused", BINH),
        ("own", "ok", AN),
    ]


async def test_a_reassignment_by_someone_not_an_admin_is_refused_in_the_dialog(own) -> None:
    own.alerts.handle_decision(decision(1, now_local(own)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    values = {"owner": {"owner": {"type": "users_select", "selected_user": BINH}}}
    resp = await own.ring.view(VIEW_REASSIGN, values, user=AN, private_metadata=str(alert_id))
    assert resp.json()["response_action"] == "errors"
    assert own.alerts.owners.get(alert_id)["owner"] is None


# -- escalation ------------------------------------------------------------------------------------------------
async def test_escalation_fires_once_at_n_minutes_with_the_badge(own) -> None:
    own.alerts.handle_decision(decision(1, now_local(own)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    own.clock.advance(14 * 60 + 59)
    assert await own.jobs.run_due(own.clock()) == []  # not yet at 14:59
    own.clock.advance(1)
    assert await own.jobs.run_due(own.clock()) == [f"escalate:{alert_id}:1"]
    await own.drain()
    [reply] = own.replies(alert_id)
    assert reply.text.startswith(":rotating_light: <!here>: nobody has taken this missed call for 15 min.")
    assert ":rotating_light: unowned 15 min" in text_of(own.message(alert_id).blocks)
    # The same job again (a restart that replayed it, a duplicate): nothing more is said.
    await run_again(own, "escalate", own.clock(), {"alert_id": alert_id, "step": 1})
    await own.drain()
    assert len(own.replies(alert_id)) == 1

    await click(own, ACTION_TAKE, alert_id, AN)  # taken: the badge goes
    await eventually(lambda: own.alerts.owners.get(alert_id)["owner"] == AN, "owned")
    await own.drain()
    shown = text_of(own.message(alert_id).blocks)
    assert "unowned" not in shown and f"Owned by <@{AN}>" in shown


async def test_no_escalation_when_claimed_at_n_minus_one(own) -> None:
    own.alerts.handle_decision(decision(1, now_local(own)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    own.clock.advance(14 * 60)
    await click(own, ACTION_TAKE, alert_id, AN)
    await eventually(lambda: own.alerts.owners.get(alert_id)["owner"] == AN, "owned")
    own.clock.advance(60)
    await own.jobs.run_due(own.clock())
    # Even if the job had not been cancelled (a stored one from before a restart), it finds the alert owned.
    await run_again(own, "escalate", own.clock(), {"alert_id": alert_id, "step": 1})
    await own.drain()
    assert own.replies(alert_id) == []
    assert own.alerts.owners.get(alert_id)["escalation_step"] == 0


async def test_second_step_dms_the_supervisors_and_a_late_step_says_so(own) -> None:
    own.alerts.owners.set_route_settings(
        "default",
        {"escalate_after": 5, "escalate_to": ["S0LEADS"], "second_after": 10, "supervisors": ["U0BOSS"]},
        by=ADMIN,
    )
    own.alerts.handle_decision(decision(1, now_local(own)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    [key] = own.jobs.keys()
    own.clock.advance(5 * 60)
    assert await own.jobs.run_due(own.clock() + 600) == [key]  # it fell due 10 min ago, while ringbot was down
    await own.drain()
    [reply] = own.replies(alert_id)
    assert reply.text.startswith(":rotating_light: <!subteam^S0LEADS>: nobody has taken this missed call for 5 min.")
    assert "comes 10 min late" in reply.text
    own.clock.advance(10 * 60)
    assert await own.jobs.run_due(own.clock()) == [f"escalate:{alert_id}:2"]
    await own.drain()
    [dm] = [m for m in own.ring.slack.messages.values() if m.channel == "D0BOSS"]
    assert "has had no owner for 15 min" in text_of(dm.blocks) and "unowned for 15 min" in dm.text


# -- business hours and the overnight digest -------------------------------------------------------------------
async def test_an_after_hours_call_is_not_posted_at_night_and_is_one_digest_entry_at_opening(own) -> None:
    own.alerts.owners.set_route_settings("default", {"hours": {"mon-sun": "08:00-17:30"}}, by=ADMIN)
    night = now_local(own).replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=1)
    own.clock.now = night.timestamp()
    assert own.alerts.handle_decision(decision(1, night)) == "held"
    assert own.alerts.handle_decision(decision(2, night + timedelta(minutes=5))) == "repeat"  # the same caller
    await own.drain()
    assert own.ring.slack.posts(CHANNEL) == []  # nobody pinged at night
    [(key, (kind, when, args))] = stored(own).items()
    assert datetime.fromtimestamp(when, own.alerts.tz).strftime("%H:%M") == "08:00"

    own.clock.now = when
    assert await own.jobs.run_due(own.clock()) == [key]
    await own.drain()
    [digest] = own.ring.slack.posts(CHANNEL)
    shown = text_of(digest.body["blocks"])
    assert "While we were closed:" in shown and "2 calls" in shown and "0987 654 321" in shown
    buttons = [b["accessory"] for b in digest.body["blocks"] if b.get("accessory")]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ACTION_CALLBACK, str(own.store.alert_for_call("call-1")["id"]))
    ]
    await run_again(own, kind, when, args)  # run again (a duplicate, a restart): nothing twice
    await own.drain()
    assert len(own.ring.slack.posts(CHANNEL)) == 1


async def test_an_urgent_route_still_posts_after_hours(own) -> None:
    own.alerts.owners.set_route_settings("default", {"hours": {"mon-sun": "08:00-17:30"}, "urgent": True}, by=ADMIN)
    night = now_local(own).replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=1)
    own.clock.now = night.timestamp()
    assert own.alerts.handle_decision(decision(1, night)) == "new"
    await own.drain()
    assert len(own.ring.slack.posts(CHANNEL)) == 1


# -- short hang-ups --------------------------------------------------------------------------------------------
async def test_a_one_second_hang_up_is_not_alerted_and_appears_in_the_digest(own) -> None:
    own.alerts.owners.set_route_settings("default", {"min_ring_seconds": 5}, by=ADMIN)
    at = now_local(own)
    assert own.alerts.handle_decision(decision(1, at, number="0912000111", ring_seconds=1)) == "short"
    await own.drain()
    assert own.ring.slack.posts(CHANNEL) == [] and count_rows(own.store, "alerts") == 0
    # The same number again, however short: a repeat call always alerts.
    assert own.alerts.handle_decision(decision(2, at + timedelta(minutes=1), number="0912000111", ring_seconds=1)) == (
        "new"
    )
    [(key, (kind, when, args))] = [kv for kv in stored(own).items() if kv[0].startswith("digest:")]
    own.clock.now = when
    await own.jobs.run_due(own.clock())
    await own.drain()
    digest = [p for p in own.ring.slack.posts(CHANNEL) if "short hang-up" in p.body.get("text", "")]
    assert len(digest) == 1
    assert "1 short hang-up (gave up within 5 s, not alerted): 0912 000 111" in text_of(digest[0].body["blocks"])

    resp = await own.ring.command("missed all")  # and `/ring missed all` lists it
    assert resp.status_code == 200
    await own.ring.slack.wait_for(lambda: own.ring.responses())
    assert "0912 000 111" in text_of(own.ring.responses()[-1]["blocks"])


# -- the DM of the person rung ---------------------------------------------------------------------------------
async def test_a_direct_extension_miss_goes_to_the_channel_and_the_dm_and_both_follow_a_call_back(own) -> None:
    ring = own.ring
    await set_device(ring, AN_SIP, AN_PW)
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    own.alerts.handle_decision(decision(1, now_local(own), dialled="201", agents_rung=(AN_SIP,)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    [copy] = own.alerts.owners.copies(alert_id)
    assert (copy["user"], copy["channel"]) == (AN, "D0AN")
    dm = ring.slack.messages[(copy["channel"], copy["ts"])]
    assert dm.blocks == own.message(alert_id).blocks  # one alert, two places

    await click(own, ACTION_CALLBACK, alert_id, BINH)  # BINH has no device: refused, nothing changes
    await wait_reply(ring, 1)
    await click(own, ACTION_CALLBACK, alert_id, AN)
    await eventually(lambda: own.alerts.owners.get(alert_id)["owner"] == AN, "the Call back took it")
    await own.drain()
    channel_view, dm_view = own.message(alert_id).blocks, ring.slack.messages[(copy["channel"], copy["ts"])].blocks
    assert dm_view == channel_view
    assert "is calling back" in text_of(dm_view) and f"Owned by <@{AN}>" in text_of(dm_view)


async def test_an_alerts_buttons_count_only_in_its_channel_and_in_the_clickers_own_dm_copy(own) -> None:
    """A click names the alert by id, which a forger can copy into a payload from any channel: only the alert's
    channel and the DM its copy was sent to (to that person, the only one who can click there) are honoured."""
    ring = own.ring
    await set_device(ring, AN_SIP, AN_PW)
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    replies = len(ring.responses())
    own.alerts.handle_decision(decision(1, now_local(own), dialled="201", agents_rung=(AN_SIP,)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    [copy] = own.alerts.owners.copies(alert_id)
    assert copy["channel"] == "D0AN"

    for user, channel in ((BINH, "C0ELSEWHERE"), (BINH, "D0AN"), (ADMIN, "")):  # not where the alert shows them
        resp = await ring.action(ACTION_TAKE, str(alert_id), user=user, channel=channel)
        assert resp.status_code == 200
        replies += 1
        assert await wait_reply(ring, replies) == say("button.invalid")
    assert own.alerts.owners.get(alert_id)["owner"] is None

    await ring.action(ACTION_TAKE, str(alert_id), user=AN, channel="D0AN")  # on AN's own copy
    await eventually(lambda: own.alerts.owners.get(alert_id)["owner"] == AN, "AN took it from the DM copy")
    await ring.action(ACTION_RELEASE, str(alert_id), user=AN, channel=CHANNEL)  # and in the channel
    await eventually(lambda: own.alerts.owners.get(alert_id)["owner"] is None, "AN released it in the channel")


async def test_a_queue_miss_has_no_dm_copy(own) -> None:
    ring = own.ring
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    own.alerts.handle_decision(decision(1, now_local(own), queue_id="q-cskh", agents_rung=(AN_SIP,)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    assert own.alerts.owners.copies(alert_id) == []
    assert all(AN_SIP in p.body["text"] for p in ring.slack.posts("D0AN"))  # the link's confirmation, no copy


# -- /ring mine and /ring route settings -----------------------------------------------------------------------
async def test_ring_mine_lists_what_i_own(own) -> None:
    own.alerts.handle_decision(decision(1, now_local(own)))
    own.alerts.handle_decision(decision(2, now_local(own), number="0901111222"))
    first = own.store.alert_for_call("call-1")["id"]
    await click(own, ACTION_TAKE, first, AN)
    await eventually(lambda: own.alerts.owners.get(first)["owner"] == AN, "owned")
    await own.ring.command("mine", user=AN)
    await own.ring.slack.wait_for(lambda: len(own.ring.responses()) >= 1)
    shown = text_of(own.ring.responses()[-1]["blocks"])
    assert "*Owned by you* (1)" in shown and "0987 654 321" in shown and "0901 111 222" not in shown


async def test_route_settings_by_command_admins_only(own) -> None:
    await own.ring.command("route default escalate 10 @here then 5 <@U0BOSS>", user=AN)
    await own.ring.command("route default escalate 10 then 5 <@U0BOSS|boss>", user=ADMIN)
    await own.ring.command("route default hours mon-fri 08:00-17:30 sat 08:00-12:00", user=ADMIN)
    await own.ring.command("route default min-ring 4", user=ADMIN)
    await own.ring.command("route default hours mon-fri 25:00-26:00", user=ADMIN)
    await own.ring.slack.wait_for(lambda: len(own.ring.responses()) >= 5)
    await asyncio.sleep(0)
    texts = [r["text"] for r in own.ring.responses()]
    assert any("Only admins" in t for t in texts)
    assert any(t.startswith("That setting was not changed") for t in texts)
    stored = own.alerts.owners.route_settings("default")
    assert stored is not None
    assert (stored["escalate_after"], stored["second_after"], stored["supervisors"]) == (10, 5, ["U0BOSS"])
    assert stored["hours"] == {"mon-fri": "08:00-17:30", "sat": "08:00-12:00"} and stored["min_ring_seconds"] == 4


# -- persisted jobs --------------------------------------------------------------------------------------------
async def test_an_escalation_due_while_ringbot_was_down_runs_once_after_the_restart_and_says_it_is_late(own) -> None:
    deps = own.ring.deps
    own.clock.now = time.time() - 20 * 60  # the call came in 20 minutes ago, just before ringbot went down
    own.alerts.handle_decision(decision(1, now_local(own)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    assert own.jobs.keys("escalate:") == [f"escalate:{alert_id}:1"]  # stored with the alert; down before it fell due

    own.clock.now = time.time()
    second = build_jobs(deps, AsyncIOScheduler(timezone="UTC"), clock=own.clock)  # the restart's runner
    assert await second.run_due(own.clock()) == [f"escalate:{alert_id}:1"]
    await own.drain()
    [reply] = own.replies(alert_id)
    assert "comes 5 min late" in reply.text  # due 15 min after the call, run 20 min after it
    assert second.keys("escalate:") == []

    third = build_jobs(deps, AsyncIOScheduler(timezone="UTC"), clock=own.clock)  # and again: nothing is said twice
    assert await third.run_due(own.clock()) == []
    await own.drain()
    assert len(own.replies(alert_id)) == 1


async def test_without_the_im_write_scope_only_the_dm_copy_is_given_up_and_the_channel_still_gets_its_alert(
    own,
) -> None:
    ring = own.ring
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    ring.slack.fail("conversations.open", status=200, error="missing_scope", count=10)
    own.alerts.handle_decision(decision(1, now_local(own), dialled="201", agents_rung=(AN_SIP,)))
    own.alerts.handle_decision(decision(2, now_local(own), number="0901111222"))
    await own.drain()
    assert len(ring.slack.posts(CHANNEL)) == 2  # no workspace-wide hold for a DM that cannot be opened
    [(status, error)] = own.store.conn.execute("SELECT status, error FROM outbox WHERE kind = 'copy'").fetchall()
    assert status == "dead" and "im:write" in error


async def test_a_person_whose_dm_cannot_be_opened_is_logged_once_and_shown_as_given_up(own, caplog) -> None:
    ring = own.ring
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    ring.slack.fail("conversations.open", status=200, error="user_disabled", count=10)
    with caplog.at_level(logging.DEBUG, logger="bot.outbox"):
        for n, number in ((1, "0987654321"), (2, "0901111222"), (3, "0903333444")):
            own.alerts.handle_decision(decision(n, now_local(own), number=number, dialled="201", agents_rung=(AN_SIP,)))
        await own.drain()
    copies = own.store.conn.execute("SELECT status, error FROM outbox WHERE kind = 'copy'").fetchall()
    assert len(copies) == 3 and {status for status, _ in copies} == {"dead"}
    assert all(error.startswith(f"given up: cannot open the DM with {AN}: user_disabled") for _, error in copies)
    warned = [r.args[3] for r in caplog.records if "dead letter" in r.getMessage() and r.levelno >= logging.WARNING]
    assert sorted(warned) == [AN, ADMIN]  # one line a person (the link notices too), not one per message
    given_up = {g["channel"]: g["rows"] for g in own.store.given_up_outbox()}
    assert given_up == {AN: 4, ADMIN: 1}  # AN: three DM copies and the notice of the link


# -- in the reader's language ----------------------------------------------------------------------------------
@pytest.fixture
def vietnamese_channel(own: Own) -> None:
    """RINGBOT_CHANNEL_LANGUAGES=C0ALERTS=vi"""
    own.ring.deps.channel_languages = ChannelLanguages("en", {CHANNEL: "vi"})
    own.outbox = own.make_outbox()


async def test_in_a_vietnamese_channel_the_escalation_reply_and_the_overnight_digest_are_vietnamese(
    own, vietnamese_channel
) -> None:
    own.alerts.handle_decision(decision(1, now_local(own)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    assert own.message(alert_id).text.startswith("Cuộc gọi nhỡ từ 0987 654 321")
    own.clock.advance(15 * 60)
    assert await own.jobs.run_due(own.clock()) == [f"escalate:{alert_id}:1"]
    await own.drain()
    [reply] = own.replies(alert_id)
    assert reply.text.startswith(":rotating_light: <!here>: cuộc gọi nhỡ này đã 15 phút mà chưa ai nhận.")

    own.alerts.owners.set_route_settings("default", {"hours": {"mon-sun": "08:00-17:30"}}, by=ADMIN)
    night = now_local(own).replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=1)
    own.clock.now = night.timestamp()
    assert own.alerts.handle_decision(decision(2, night, number="0901111222")) == "held"
    [key] = own.jobs.keys("digest:")
    own.clock.now = stored(own)[key][1]
    assert await own.jobs.run_due(own.clock()) == [key]
    await own.drain()
    digest = own.ring.slack.posts(CHANNEL)[-1]
    assert digest.body["text"] == "Trong lúc ngoài giờ làm việc: 1 cuộc gọi nhỡ"
    assert ":sunrise: *Trong lúc ngoài giờ làm việc:* 1 cuộc gọi nhỡ" in text_of(digest.body["blocks"])


async def test_a_dm_copy_and_a_supervisors_dm_follow_their_readers_language_not_the_channels(own) -> None:
    ring = own.ring
    ring.slack.locales.update({AN: "vi-VN", "U0BOSS": "vi-VN", "U0LEAD": "en-US"})
    own.alerts.owners.set_route_settings(
        "default", {"escalate_after": 5, "second_after": 10, "supervisors": ["U0BOSS", "U0LEAD"]}, by=ADMIN
    )
    await set_device(ring, AN_SIP, AN_PW)
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    own.alerts.handle_decision(decision(1, now_local(own), dialled="201", agents_rung=(AN_SIP,)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await own.drain()
    [copy] = own.alerts.owners.copies(alert_id)
    assert own.message(alert_id).text.startswith("Missed call from 0987 654 321")  # the channel: English
    assert ring.slack.messages[(copy["channel"], copy["ts"])].text.startswith("Cuộc gọi nhỡ từ 0987 654 321")

    own.clock.advance(5 * 60)
    await own.jobs.run_due(own.clock())
    own.clock.advance(10 * 60)
    assert await own.jobs.run_due(own.clock()) == [f"escalate:{alert_id}:2"]
    await own.drain()
    [boss] = [m for m in ring.slack.messages.values() if m.channel == "D0BOSS"]
    [lead] = [m for m in ring.slack.messages.values() if m.channel == "D0LEAD"]
    assert boss.text == "Cuộc gọi nhỡ từ 0987 654 321 chưa ai nhận sau 15 phút"
    assert lead.text == "Missed call from 0987 654 321 unowned for 15 min"


# -- exactly once, through a Slack outage and a kill -----------------------------------------------------------
def post_statuses(own: Own) -> list[int]:
    return [c.status for c in own.ring.slack.calls_to("chat.postMessage", ok_only=False)]


def copies_in(ring, channel: str) -> list:
    """The alert's copies posted in a DM (not the link's confirmation, a notice of its own)."""
    return [
        p
        for p in ring.slack.posts(channel)
        if (p.body.get("metadata") or {}).get("event_payload", {}).get("kind") == "copy"
    ]


async def test_an_escalation_reply_and_a_dm_copy_due_during_a_slack_outage_are_posted_exactly_once(own) -> None:
    ring = own.ring
    outbox = own.outbox_on_its_own_clock()
    await set_device(ring, AN_SIP, AN_PW)
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    ring.slack.fail("chat.postMessage", status=500, count=6)
    own.alerts.handle_decision(decision(1, now_local(own), dialled="201", agents_rung=(AN_SIP,)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    await outbox.drain(timeout=10)
    [copy] = own.alerts.owners.copies(alert_id)
    assert len(ring.slack.posts(CHANNEL)) == 1 and len(copies_in(ring, copy["channel"])) == 1
    assert post_statuses(own).count(500) == 6

    ring.slack.fail("chat.postMessage", status=500, count=6)
    own.clock.advance(15 * 60)
    await own.jobs.run_due(own.clock())
    await outbox.drain(timeout=10)
    assert len(own.replies(alert_id)) == 1
    assert post_statuses(own).count(500) == 12
    assert set(own.store.outbox_counts()) == {"sent"}  # nothing dead, nothing left


async def test_an_escalation_reply_and_dms_slack_took_before_a_kill_are_not_posted_again(own) -> None:
    """The process dies after Slack took each post and before it was booked (the row is left inflight, as the
    sender leaves it): the next process finds each by its metadata, in the thread or the DM, and posts none twice."""
    ring = own.ring
    client = own.ring.deps.slack
    await set_device(ring, AN_SIP, AN_PW)
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    own.alerts.owners.set_route_settings(
        "default", {"escalate_after": 15, "second_after": 10, "supervisors": ["U0BOSS"]}, by=ADMIN
    )
    own.alerts.handle_decision(decision(1, now_local(own), dialled="201", agents_rung=(AN_SIP,)))
    alert_id = own.store.alert_for_call("call-1")["id"]
    [copy_row] = own.store.pending_outbox(kind="copy")

    async def killed_after_slack_took(row_id: int, *, channel: str, thread_ts: str | None = None) -> str:
        if channel != outbox_row(own.store, row_id)["channel"]:
            own.store.set_outbox_channel(row_id, channel)  # the DM was opened, the row moved to it
        assert own.store.claim_outbox(row_id, thread_ts=thread_ts)  # inflight, as the sender leaves it
        row = outbox_row(own.store, row_id)
        resp = await client.chat_postMessage(
            channel=channel, text="(before the kill)", thread_ts=thread_ts, metadata=message_metadata(row)
        )
        return str(resp["ts"])

    copy_ts = await killed_after_slack_took(copy_row["id"], channel="D0AN")
    restarted = own.make_outbox()
    await restarted.recover()
    assert own.alerts.owners.get_copy(alert_id, AN)["ts"] == copy_ts  # the copy learnt where its message is
    await restarted.drain(timeout=10)  # the alert itself, then the copy's edits only
    assert len(copies_in(ring, "D0AN")) == 1 and len(ring.slack.posts(CHANNEL)) == 1
    alert_ts = own.store.get_alert(alert_id)["ts"]

    own.clock.advance(15 * 60)
    await own.jobs.run_due(own.clock())
    [reply_row] = own.store.pending_outbox(kind="escalation")
    reply_ts = await killed_after_slack_took(reply_row["id"], channel=CHANNEL, thread_ts=alert_ts)
    own.clock.advance(10 * 60)
    await own.jobs.run_due(own.clock())
    [dm_row] = own.store.pending_outbox(kind="escalation_dm")
    await killed_after_slack_took(dm_row["id"], channel="D0BOSS")

    again = own.make_outbox()
    await again.recover()
    assert outbox_row(own.store, reply_row["id"])["ts"] == reply_ts
    assert {own.store.outbox_status(r) for r in (reply_row["id"], dm_row["id"])} == {"sent"}
    await again.drain(timeout=10)
    assert [m.ts for m in own.replies(alert_id)] == [reply_ts]
    assert len(ring.slack.posts("D0BOSS")) == 1 and len(ring.slack.posts(CHANNEL)) == 2  # the alert, the reply
