"""`ringbot demo`: the built-in AntBuddy simulator, the bot, and a console stand-in for Slack that prints
every post and update readably. No credentials; leaves only its SQLite file in a temp dir."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bot.alerts.escalation import Escalation
from bot.alerts.ownership import escalation_key
from bot.app import Runtime, shutdown, start
from bot.config import load_settings
from bot.devtools.console import message_to_text
from bot.devtools.fakeslack import FakeSlack, SlackCall, block_actions_body, sign, slash_command_body
from bot.devtools.simulator.server import Simulator
from bot.ops.logs import setup_logging
from storage.jobs import JobTable

DEMO_SIGNING_SECRET = "demo-signing-secret"
DEMO_CHANNEL = "C0CALLS"
DEMO_USER = "U0AN"  # the team lead who clicks Call back in the demo
DEMO_BINH = "U0BINH"  # the agent who takes an alert with "I'll take it"
NAMES = {DEMO_USER: "an", DEMO_BINH: "binh", "UBOT": "ringbot", "UADMIN": "admin"}

SCRIPT = (  # (scenario, caller, pause after, what the viewer should notice)
    ("answered", "0912345678", 0.0, "an answered call: no alert"),
    ("missed_cancel", "0987654321", 0.3, "a missed call: one alert"),
    ("queue_abandoned", "0909123456", 0.3, "a caller gives up in the CSKH queue: abandoned alert"),
    ("missed_ringout", "0987654321", 0.3, "the same number calls again: the open alert is updated, not duplicated"),
    ("ringgroup_answered", "0356789012", 0.0, "a ring group call answered by one agent: no alert"),
    ("missed_cancel", "0978111222", 0.3, "another missed call: nobody will take this one"),  # escalated below
)


class ConsolePrinter:
    """Prints fake-Slack traffic like a Slack channel would show it."""

    def __init__(self, write: Callable[[str], None] | None = None, *, ansi: bool = False) -> None:
        self.write = write or (lambda s: print(s, flush=True))
        self.ansi = ansi  # bold / italic / code as terminal styles (only when printing to a terminal)
        self.count = 0

    def __call__(self, call: SlackCall) -> None:
        if call.status != 200:
            self.write(f"   (Slack answered {call.status} to {call.method}; ringbot will retry)")
            return
        b = call.body
        if call.method == "chat.postMessage":
            where = f"#{b.get('channel')}" + (" (thread reply)" if b.get("thread_ts") else "")
            self._show(f"💬 new message in {where}", b)
        elif call.method == "chat.update":
            self._show(f"✏️  alert updated in #{b.get('channel')}", b)  # the message as it now reads
        elif call.method in ("response_url", "chat.postEphemeral"):
            self._show("👁  only visible to you", b)
        elif call.method == "views.publish":
            self.write(f"🏠 App Home refreshed for @{NAMES.get(b.get('user_id', ''), b.get('user_id'))}")
        elif call.method == "views.open":
            self.write("🪟 a dialog opened")

    def _show(self, title: str, body: dict[str, Any]) -> None:
        self.count += 1
        self.write(f"\n{title}")
        for line in message_to_text(body, NAMES, ansi=self.ansi):
            self.write(f"   │ {line}")


DEMO_COMMANDS = ("queues", "agents", "missed", "history 0987654321")
DEMO_COMMANDS_VI = ("hàng-đợi", "nhân-viên", "nhỡ", "lịch-sử 0987654321 hôm nay")  # the same, as typed in Vietnamese


async def run_demo(
    *, seconds: float = 0, speed: float = 1.0, write: Callable[[str], None] | None = None, lang: str = "en"
) -> int:
    """`lang`: the channel's language (RINGBOT_LANGUAGE) and @an's Slack locale; in `vi` she also types
    the Vietnamese sub-command names."""
    say = write or (lambda s: print(s, flush=True))
    workdir = Path(tempfile.mkdtemp(prefix="ringbot-demo-"))
    setup_logging("WARNING", "text")
    sim = Simulator(seed=int(time.time()))
    sim_url = await sim.start()
    printer = ConsolePrinter(say, ansi=write is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    slack = FakeSlack(on_call=printer)
    slack.locales[DEMO_USER] = "vi-VN" if lang == "vi" else "en-US"
    await slack.start()
    settings = load_settings(
        {
            "ANTBUDDY_APP_ID": sim.app_id,
            "ANTBUDDY_APP_SECRET": sim.app_secret,
            "ANTBUDDY_ACCOUNT_ID": sim.account_id,
            "ANTBUDDY_DOMAIN": sim.domain,
            "ANTBUDDY_EMAIL": sim.email,
            "ANTBUDDY_API_URL": sim_url,
            "ANTBUDDY_WS_URL": sim_url,
            "ANTBUDDY_WS_PROTOCOL": "socketio",
            "SLACK_BOT_TOKEN": "xoxb-demo",
            "SLACK_SIGNING_SECRET": DEMO_SIGNING_SECRET,
            "SLACK_API_URL": slack.url,
            "RINGBOT_ALERT_CHANNEL": DEMO_CHANNEL,
            "RINGBOT_DB": str(workdir / "ringbot.db"),
            "RINGBOT_SECRET_KEY": Fernet.generate_key().decode(),
            "RINGBOT_HTTP_HOST": "127.0.0.1",
            "RINGBOT_HTTP_PORT": "0",
            "RINGBOT_GRACE_SECONDS": "0.5",
            "RINGBOT_LOG_LEVEL": "WARNING",
            "RINGBOT_LANGUAGE": lang,
        },
        dotenv=None,
    )
    say("ringbot demo — a simulated AntBuddy call center, the bot, and Slack printed below. Ctrl-C stops it.")
    say(f"(database: {workdir / 'ringbot.db'})")
    rt = await start(settings, mode="http", install_signals=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    bot_url = f"http://127.0.0.1:{rt.http_port}/slack/events"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await rt.stream.wait_connected(10)
            commands = DEMO_COMMANDS_VI if lang == "vi" else DEMO_COMMANDS
            script = asyncio.create_task(_play(http, sim_url, bot_url, slack, rt, speed, say, stop, commands))
            ending = asyncio.create_task(_until_stopped(stop, seconds))
            try:
                await asyncio.wait([script, ending], return_when=asyncio.FIRST_COMPLETED)
                if script.done() and not script.cancelled() and (error := script.exception()) is not None:
                    raise error
                await ending
            finally:
                script.cancel()
                ending.cancel()
            with contextlib.suppress(httpx.HTTPError):
                await http.delete(f"{sim_url}/_sim/traffic")
    finally:
        say("\nstopping…")
        await shutdown(rt)
        await slack.stop()
        await sim.stop()
        say(f"demo over: {printer.count} Slack messages shown; the database is left in {workdir}")
    return 0


async def _until_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Until Ctrl-C or SIGTERM, or for `seconds` when that is not 0."""
    if not seconds:
        await stop.wait()
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _play(
    http: httpx.AsyncClient,
    sim_url: str,
    bot_url: str,
    slack: FakeSlack,
    rt: Runtime,
    speed: float,
    say: Callable[[str], None],
    stop: asyncio.Event,
    commands: tuple[str, ...] = (),
) -> None:
    pause = lambda s: asyncio.sleep(s / max(speed, 0.01))  # noqa: E731
    for scenario, caller, after, note in SCRIPT:
        say(f"\n☎  {caller} calls the hotline — {note}")
        await http.post(
            f"{sim_url}/_sim/calls",
            json={"scenario": scenario, "caller": caller, "speed": 0.01 / max(speed, 0.01), "wait": True},
        )
        await pause(after + rt.settings.grace_seconds)
    alerts = rt.deps.store.open_alerts(limit=1)
    if alerts:
        alert = alerts[0]
        rt.deps.links.link(DEMO_USER, "user_an101", "pw-101", by=DEMO_USER, is_admin=False)
        say("\n🖱  @an clicks [Call back] on the first alert (her SIP phone user_an101 is linked)")
        await _signed(
            http,
            bot_url,
            block_actions_body(
                "alert_callback",
                str(alert["id"]),
                user_id=DEMO_USER,
                channel_id=alert["channel"],
                message_ts=alert.get("ts") or "",
                response_url=slack.response_url("demo-callback"),
            ),
        )
        await pause(2.0)
    await _ownership(http, bot_url, slack, rt, say)
    await pause(1.0)
    for text in commands:
        say(f"\n⌨  @an types /ring {text}")
        await _signed(
            http,
            bot_url,
            slash_command_body(
                text, user_id=DEMO_USER, channel_id=DEMO_CHANNEL, response_url=slack.response_url(f"demo-{text}")
            ),
        )
        await pause(0.6)
    await _queue_alert(http, sim_url, bot_url, slack, speed, say)
    say("\n… now playing random traffic (about 12 calls a minute). Ctrl-C to stop.")
    await http.post(
        f"{sim_url}/_sim/traffic", json={"rate_per_minute": 12 * max(speed, 0.01), "duration_seconds": 24 * 3600}
    )
    await stop.wait()


async def _queue_alert(
    http: httpx.AsyncClient, sim_url: str, bot_url: str, slack: FakeSlack, speed: float, say: Callable[[str], None]
) -> None:
    """A queue alert forms, worsens and recovers (docs/queues.md)."""
    pause = lambda s: asyncio.sleep(s / max(speed, 0.01))  # noqa: E731
    watch = "watch CSKH waiting>=3 wait>=3s"
    say(f"\n⌨  @admin types /ring {watch}")
    await _signed(
        http,
        bot_url,
        slash_command_body(watch, user_id="UADMIN", channel_id=DEMO_CHANNEL, response_url=slack.response_url("demo-w")),
    )
    await pause(0.5)
    for ext in ("101", "102", "103"):
        await http.put(f"{sim_url}/_sim/agents/{ext}", json={"status": "paused"})
    say("\n☎  CSKH's three agents are on a break and four callers queue up: a queue alert forms, then worsens")
    for caller in ("0912000001", "0912000002", "0912000003", "0912000004"):
        await http.post(
            f"{sim_url}/_sim/calls",
            json={"scenario": "queue_answered", "queue_id": "CSKH", "caller": caller, "wait_seconds": 50,
                  "speed": 0.08 / max(speed, 0.01)},
        )  # fmt: skip
        await pause(0.2)
    await pause(3.6)
    say("\n🙋 the agents are back and answer every caller: the same alert says recovered")
    for ext in ("101", "102", "103"):
        await http.put(f"{sim_url}/_sim/agents/{ext}", json={"status": "ready"})
    await pause(2.0)


async def _ownership(
    http: httpx.AsyncClient, bot_url: str, slack: FakeSlack, rt: Runtime, say: Callable[[str], None]
) -> None:
    """In the first minute: @binh takes an alert with [I'll take it]; the ones nobody takes escalate (the demo
    fast-forwards the 15 minutes: the escalation the stored job would run, on a clock 15 minutes ahead)."""
    unowned = [a for a in rt.deps.store.open_alerts(limit=10) if not rt.deps.alerts.owners.get(a["id"])["owner"]]
    if not unowned:
        return
    taken = unowned[0]
    say("\n🖱  @binh clicks [I'll take it] on an alert: it shows who owns it, and nobody gets pinged about it")
    await _signed(
        http,
        bot_url,
        block_actions_body(
            "alert_take",
            str(taken["id"]),
            user_id=DEMO_BINH,
            channel_id=taken["channel"],
            message_ts=taken.get("ts") or "",
            response_url=slack.response_url("demo-take"),
        ),
    )
    await asyncio.sleep(1.5)
    service = rt.deps.alerts
    # The same escalation the stored job runs, on a clock 15 minutes ahead; the stored job is then done.
    ahead = Escalation(service.store, rules=service.rules, clock=lambda: service.clock() + 15 * 60, wake=service.wake)
    if unowned[1:]:
        say("\n⏩ 15 minutes later (fast-forwarded): nobody has taken the other alerts, so ringbot escalates them")
    for alert in unowned[1:]:
        await ahead.run(alert_id=alert["id"], step=1)
        JobTable(service.store).cancel(escalation_key(alert["id"], 1))
        await asyncio.sleep(1.5)


async def _signed(http: httpx.AsyncClient, url: str, body: str) -> None:
    try:
        await http.post(url, content=body, headers=sign(DEMO_SIGNING_SECRET, body))
    except httpx.HTTPError as exc:
        logging.getLogger(__name__).warning("demo request failed error=%s", exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(asyncio.run(run_demo()))
