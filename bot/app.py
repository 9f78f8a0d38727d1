"""Wires ringbot together: settings -> store, AntBuddy client, services -> Slack listeners, stream, outbox,
scheduler. One asyncio loop runs it all; `run()` owns start-up and an orderly shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.escalation import Escalation
from bot.alerts.lists import Lists
from bot.alerts.messages import alert_messages
from bot.alerts.overnight import Overnight
from bot.alerts.reconcile import HistoryFill, Reconciler
from bot.alerts.routes import load_routes_file
from bot.alerts.routing import Routing
from bot.alerts.service import AlertService
from bot.antbuddy import AntBuddyClient
from bot.antbuddy.directory import Directory
from bot.antbuddy.errors import AuthError
from bot.antbuddy.models import HistoryPage
from bot.callback.callbacks import CallBack
from bot.callback.dialer import Dialer
from bot.callback.links import Links
from bot.callback.rules import DialRules
from bot.callback.vault import Vault
from bot.calls.pipeline import Pipeline
from bot.calls.tracker import Tracker
from bot.config import Settings, SetupError
from bot.ops.instance import InstanceLock
from bot.ops.looplag import LoopLag
from bot.ops.metrics import Metrics, describe_ringbot
from bot.ops.retention import prune_daily
from bot.ops.scheduled import Handler, Jobs
from bot.outbox.errors import WORKSPACE_ERRORS, error_code
from bot.outbox.message import MessageKind
from bot.outbox.notice import Notices, notice_kinds
from bot.outbox.sending import Render
from bot.outbox.worker import Outbox
from bot.queues import figures
from bot.queues.chart import charts_available, render_chart
from bot.queues.daily_digest import DailyDigest, day_bounds
from bot.queues.queue_alerts import QueueAlerts
from bot.queues.queue_messages import DigestFigures, chart_words, queue_messages
from bot.queues.service import QueueService
from bot.services import Services
from bot.slack import i18n
from bot.slack.app import build_bolt_app, build_slack_client, start_http
from bot.slack.i18n import speaking
from bot.slack.people import Languages
from bot.slack.socket_log import SocketModeLog
from bot.stream.client import StreamAuthError, StreamClient
from handlers import register as register_listeners
from storage import Store, write_failure

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "bot_heartbeat"
PRUNE_FIRST_SECONDS = 300  # the first daily prune after a start, once the start-up work is done
HEARTBEAT_SECONDS = 10
OUTBOX_STALE_SECONDS = 300  # /healthz is unhealthy while an alert has waited this long to reach Slack
# The event loop never waits on another program's database lock for longer than this per statement; what must be
# written then waits off the loop (docs/operations.md, The database).
LOOP_BUSY_TIMEOUT = 0.05
DB_BUSY_UNHEALTHY_SECONDS = 60  # /healthz says "busy" at once, and unhealthy after this long
ANTBUDDY_CHECK_SECONDS = 15.0  # the start-up credentials check waits this long for AntBuddy's answer
AUTH_RETRY_CAP = 300.0  # seconds between auth.test tries while Slack cannot be reached at start-up
SOCKET_MODE_RETRY_SECONDS = 10.0  # Socket Mode pings this often, and retries a failed connection as often
STANDBY_POLL_SECONDS = 1.0  # a standby retries the instance lock this often: takeover within ~1 s + start-up


def bot_is_running(store: Store, *, now: float | None = None) -> bool:
    """True while a `ringbot run` on this database is alive (its heartbeat is fresh)."""
    try:
        beat = float(store.get_meta(HEARTBEAT_KEY) or 0)
    except ValueError:
        return False
    return (now or time.time()) - beat < HEARTBEAT_SECONDS * 3


def build_deps(
    settings: Settings,
    *,
    slack_client: AsyncWebClient,
    store: Store | None = None,
    antbuddy: AntBuddyClient | None = None,
    wake_outbox: Callable[[], None] | None = None,
    on_dial: Callable[[str, str], None] | None = None,
) -> Services:
    """The services every listener needs, built from settings (tests pass their own pieces). `on_dial` is told
    (number, SIP user) before each click-to-call, so the stream knows those legs are ours."""
    channel_languages = i18n.ChannelLanguages.of_settings(settings.language, settings.channel_languages)
    store = store or Store.open(settings.db_path, busy_timeout=LOOP_BUSY_TIMEOUT)
    antbuddy = antbuddy or AntBuddyClient.from_settings(settings)
    directory = Directory(antbuddy)
    alerts = AlertService(
        store,
        default_channel=settings.alert_channel,
        wake=wake_outbox or (lambda: None),
        tz=settings.tz,
        queue_name=directory.queue_name,
    )
    notices = Notices(settings.admin_channel, settings.admins, wake=wake_outbox or (lambda: None))
    links = Links(store, Vault(settings.secret_key, settings.secret_key_old), notices)
    dialer = Dialer(
        antbuddy,
        store,
        links,
        rules=DialRules(store, settings.country, allow=settings.dial_allow, deny=settings.dial_deny, notices=notices),
        on_dial=on_dial or (lambda number, sip_user: None),
    )
    routing = Routing(store, directory)
    queue_alerts = QueueAlerts(
        store,
        directory,
        default_channel=settings.alert_channel,
        wake=wake_outbox or (lambda: None),
        cooldown=settings.queue_cooldown_seconds,
    )
    return Services(
        settings=settings,
        store=store,
        antbuddy=antbuddy,
        directory=directory,
        alerts=alerts,
        links=links,
        dialer=dialer,
        callbacks=CallBack(store, dialer, alerts),
        slack=slack_client,
        routing=routing,
        lists=Lists(store),
        languages=Languages(store, slack_client, default=channel_languages.default),
        channel_languages=channel_languages,
        queues=QueueService(
            store,
            queue_alerts,
            HistoryFill(store, antbuddy, alerts),
            default_channel=settings.alert_channel,
            tz=settings.tz,
            sla=settings.sla_seconds,
            wake=wake_outbox or (lambda: None),
        ),
    )


# -- the running bot --------------------------------------------------------------------------------


@dataclass
class Runtime:
    """Everything `start` started, so tests and the demo can reach in and shutdown can go in order."""

    settings: Settings
    deps: Services
    metrics: Metrics
    pipeline: Pipeline
    outbox: Outbox
    stream: StreamClient
    reconciler: Reconciler
    scheduler: AsyncIOScheduler | None = None
    jobs: Jobs | None = None  # persisted one-off and daily jobs (bot/ops/scheduled.py)
    loop_lag: LoopLag | None = None  # how late the event loop runs (bot/ops/looplag.py)
    http_runner: web.AppRunner | None = None
    http_port: int | None = None
    socket_handler: AsyncSocketModeHandler | None = None
    socket_log: SocketModeLog | None = None  # Socket Mode's connection state, in socket mode
    bolt: AsyncApp | None = None
    # The background tasks still running (see `spawn`); shutdown cancels them.
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    started_at: float = field(default_factory=time.time)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    fatal: str | None = None
    slack_identity: dict[str, Any] | None = None  # auth.test's answer (team, url, user_id) once Slack gave it

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run `work` in the background, owned by the runtime: a failure is logged, and shutdown cancels it."""
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background task failed name=%s error=%r", task.get_name(), exc)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """The /healthz document, and whether every part is healthy; `unhealthy` names the parts that are not."""
        s = self.stream.stats
        now = time.time()
        store = self.deps.store
        given_up: list[dict[str, Any]] | None
        try:
            depth = store.outbox_depth()
            oldest = store.oldest_undelivered_at()
            given_up = [dict(g) for g in store.given_up_outbox()]
            read_failure = None
        except sqlite3.OperationalError as exc:  # locked without WAL, unreadable file...
            depth, oldest, given_up, read_failure = None, None, None, write_failure(exc)
        except Exception:  # noqa: BLE001 - any database failure is what /healthz reports, not a crash of it
            depth, oldest, given_up, read_failure = None, None, None, "error"
        writes = store.health
        db_state = writes.state if writes.state != "ok" else (read_failure or "ok")
        db_since = writes.since if writes.state != "ok" else None
        oldest_age = round(now - oldest, 1) if oldest is not None else None
        refused = self.outbox.refused()
        open_calls, oldest_open = self.pipeline.open_calls()
        doc: dict[str, Any] = {
            "role": "active",
            "stream": {
                "connected": bool(s.connected),
                "protocol": s.protocol,
                "connected_since": s.connected_since,
                "last_event_age_seconds": round(now - s.last_event_at, 1) if s.last_event_at else None,
                "reconnects": s.reconnects,
                "last_error": s.last_error,
            },
            "slack": {
                "token_checked": self.slack_identity is not None,
                "refusing": refused,  # what Slack answers every post with, when it refuses them all
                **({"socket_mode": self.socket_log.state} if self.socket_log is not None else {}),
            },
            "outbox_depth": depth,
            "outbox_oldest_age_seconds": oldest_age,
            # Per channel (or person), Slack messages given up after a day of refusals, with why and the fix.
            "outbox_given_up": given_up,
            "database": db_state,  # ok | busy (another program holds its lock) | full | readonly | error
            "database_problem_seconds": round(now - db_since, 1) if db_since is not None else None,
            "database_detail": writes.detail if writes.state != "ok" else None,
            "calls_waiting_for_database": self.pipeline.held()[0],
            "changes_waiting_for_database": store.held_changes(),  # people's changes told "saved", not yet written
            "calls_in_memory": len(self.pipeline.tracker),
            "calls_open": open_calls,
            "oldest_open_call_seconds": round(oldest_open, 1) if oldest_open is not None else None,
            "uptime_seconds": round(now - self.started_at, 1),
        }
        unhealthy = []
        if not s.connected:
            unhealthy.append("stream")
        busy_long = db_state == "busy" and db_since is not None and now - db_since > DB_BUSY_UNHEALTHY_SECONDS
        if db_state not in ("ok", "busy") or busy_long:
            unhealthy.append("database")
        if refused:
            unhealthy.append("slack")
        if oldest_age is not None and oldest_age > OUTBOX_STALE_SECONDS:
            unhealthy.append("outbox")
        if self.stopping.is_set():
            unhealthy.append("stopping")
        doc["unhealthy"] = unhealthy
        doc["status"] = "ok" if not unhealthy else "unhealthy"
        return not unhealthy, doc

    def add_health_routes(self, app: web.Application) -> None:
        async def healthz(_: web.Request) -> web.Response:
            healthy, doc = self.health()
            return web.json_response(doc, status=200 if healthy else 503)

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(
                body=self.metrics.render().encode(),
                headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},  # Prometheus text format
            )

        app.router.add_get("/healthz", healthz)
        app.router.add_get("/metrics", metrics)


def build_bolt(deps: Services, client: AsyncWebClient, *, signing_secret: str | None) -> AsyncApp:
    """The Bolt app with every ringbot listener attached."""
    return build_bolt_app(deps, client, signing_secret=signing_secret, register=register_listeners)


def ownership_jobs(deps: Services) -> dict[str, Handler]:
    """What the scheduled `escalate` and `overnight_digest` jobs do, by kind. The alert service writes those jobs
    into storage/jobs.py's table itself, in the transaction that makes them due."""
    alerts = deps.alerts
    escalation = Escalation(alerts.store, rules=alerts.rules, clock=alerts.clock, wake=alerts.wake)
    overnight = Overnight(alerts.store, clock=alerts.clock, wake=alerts.wake)

    async def escalate(*, late: float, alert_id: int, step: int = 1) -> None:
        await escalation.run(late=late, alert_id=alert_id, step=step)

    async def digest(*, late: float, channel: str, min_ring: int = 0) -> None:
        await overnight.run(late=late, channel=channel, min_ring=min_ring)

    return {"escalate": escalate, "overnight_digest": digest}


def build_jobs(
    deps: Services,
    scheduler: AsyncIOScheduler,
    *,
    daily_digest: DailyDigest | None = None,
    clock: Callable[[], float] = time.time,
) -> Jobs:
    """The runner of the stored jobs with every kind's handler: an alert's escalation steps, a channel's
    overnight digest, the daily digest (`daily_digest`, which queues each channel's digest for the outbox). The
    alert service schedules into the table directly, inside the transaction that raises the alert."""
    handlers = ownership_jobs(deps)
    if daily_digest is not None:
        handlers["digest"] = daily_digest.job
    return Jobs(deps.store, scheduler, handlers, clock=clock)


def outbox_kinds(deps: Services) -> dict[str, MessageKind]:
    """Every kind of message the outbox renders when it sends it (bot/outbox/message.py), by OutboxKind."""
    kinds: dict[str, MessageKind] = {}
    alerts = deps.alerts
    messages = alert_messages(
        alerts.store,
        tz=alerts.tz,
        rules=alerts.rules,
        clock=alerts.clock,
        workspace_url=lambda: deps.workspace.get("url"),
    )
    kinds.update(messages.items())
    kinds.update(notice_kinds())  # admins told of links and dial rules, a person of a change to their phone
    queues = queue_messages(
        deps.store,
        deps.directory,
        tz=deps.settings.tz,
        sla=deps.settings.sla_seconds,
        scopes=lambda: granted_scopes(deps.workspace),
    )
    for kind, message in queues.items():
        kinds[kind] = message
    return kinds


def granted_scopes(identity: dict[str, Any]) -> set[str] | None:
    """The bot token's scopes as auth.test's answer named them (None until Slack answered)."""
    scopes = identity.get("scopes")
    return {s.strip() for s in scopes.split(",") if s.strip()} if isinstance(scopes, str) else None


def alert_renderer(deps: Services) -> Render:
    """The outbox's render callback: an alert row -> (fallback text, blocks), with its call and queue name."""
    return deps.alerts.renderer(queue_name=deps.directory.queue_name, agent_name=deps.directory.agent_name)


async def check_slack_token(client: AsyncWebClient) -> dict[str, Any] | None:
    """auth.test: the workspace's identity (its `url` makes permalinks), or None when Slack cannot be reached now.
    A token Slack refuses raises SetupError: nothing would ever be posted, so the bot must not start."""
    try:
        resp = await asyncio.wait_for(client.auth_test(), 10.0)
    except SlackApiError as exc:
        code = error_code(exc.response)
        if code in WORKSPACE_ERRORS:
            raise SetupError(
                f"Slack refused SLACK_BOT_TOKEN ({code}): copy the Bot User OAuth Token (xoxb-…) from the app's "
                "OAuth & Permissions page, or reinstall the app"
            ) from None
        log.warning(
            "slack auth.test failed status=%s error=%s; retrying in the background", exc.response.status_code, code
        )
        return None
    except Exception as exc:  # noqa: BLE001 - unreachable for now: alerts queue, the check is retried
        log.warning("slack unreachable at start-up error=%s; alerts queue until it answers", type(exc).__name__)
        return None
    data = resp.data if isinstance(resp.data, dict) else {}
    scopes = resp.headers.get("x-oauth-scopes") if resp.headers else None
    if isinstance(scopes, str):  # what the token may do: the digest uploads its chart only with files:write
        data = {**data, "scopes": scopes}
    log.info("slack token accepted team=%s bot_user=%s", data.get("team"), data.get("user_id"))
    return data


async def check_antbuddy_credentials(settings: Settings) -> None:
    """One auth_token request: app credentials AntBuddy refuses raise SetupError (no call would ever be read, so
    the bot must not start); AntBuddy unreachable now is only logged (the stream keeps trying, /healthz says so)."""
    async with AntBuddyClient.from_settings(settings, retries=0) as probe:
        try:
            await asyncio.wait_for(probe.auth_token(), ANTBUDDY_CHECK_SECONDS)
        except AuthError as exc:
            raise SetupError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - unreachable or odd for now: the stream retries and reports it
            log.warning("antbuddy not answering at start-up error=%s; the stream keeps trying", type(exc).__name__)


async def retry_slack_token(rt: Runtime, client: AsyncWebClient) -> None:
    """Background: auth.test with backoff until Slack answers (a refused token then stops the bot)."""
    delay = 2.0
    while not rt.stopping.is_set():
        await asyncio.sleep(delay)
        try:
            identity = await check_slack_token(client)
        except SetupError as exc:
            rt.fatal = str(exc)
            log.error("stopping: %s", exc)
            rt.stopping.set()
            return
        if identity is not None:
            rt.slack_identity = identity
            rt.deps.workspace.update(identity)
            return
        delay = min(AUTH_RETRY_CAP, delay * 2)


async def start(
    settings: Settings, *, mode: str, slack_client: AsyncWebClient | None = None, install_signals: bool = True
) -> Runtime:
    """Build and start every part; returns once the bot is serving (the stream connects in the background)."""

    metrics = describe_ringbot(Metrics())
    describe_role(metrics, active=True)
    client = slack_client or build_slack_client(settings.slack_bot_token, settings.slack_api_url)
    identity = await check_slack_token(client)  # a refused token stops here, before anything is started
    await check_antbuddy_credentials(settings)  # so do refused AntBuddy credentials
    store = Store.open(settings.db_path, busy_timeout=LOOP_BUSY_TIMEOUT)
    antbuddy = AntBuddyClient.from_settings(settings)
    outbox: Outbox | None = None
    pipeline: Pipeline | None = None

    def wake_outbox() -> None:
        # Until the outbox exists there is nothing to wake: its first pass reads every pending row.
        if outbox is not None:
            outbox.wake()

    def expect_own_call(number: str, sip_user: str) -> None:
        # Nobody can click Call back before the listeners are served, which is after the pipeline is built.
        if pipeline is not None:
            pipeline.expect_own_call(number, sip_user)

    deps = build_deps(
        settings,
        slack_client=client,
        store=store,
        antbuddy=antbuddy,
        wake_outbox=wake_outbox,
        on_dial=expect_own_call,
    )
    if settings.routes_file:
        # Queue names in the file become ids when AntBuddy answers in time; a name it can't map still routes,
        # because alerts also look routes up by their queue's name.
        await _bounded(deps.directory.refresh_queues(), 5.0)
        names = {name: qid for qid, name in deps.directory.queue_names().items()}
        count = load_routes_file(store, settings.routes_file, queue_ids=names)
        log.info("routes loaded file=%s count=%s", settings.routes_file, count)

    def on_slack_call(kind: str, seconds: float, result: str) -> None:
        metrics.observe("slack_seconds", seconds, kind=kind)
        metrics.inc("slack_posts_total", kind=kind, result=result)

    outbox = Outbox(
        store,
        client,
        render=alert_renderer(deps),
        kinds=outbox_kinds(deps),
        channel_language=deps.channel_languages.of,
        person_language=deps.languages.of,
        on_call=on_slack_call,
        rate_per_second=settings.channel_posts_per_second,
        tz=settings.tz,
    )
    tracker = Tracker(grace_seconds=settings.grace_seconds)
    pipeline = Pipeline(tracker, store, deps.alerts, metrics=metrics, account_id=settings.antbuddy_account_id)
    # History is read up to `settle` seconds ago: long enough for the stream to decide a call first
    # (richer alert), short enough that a call lost in a crash is recovered within a minute.
    settle = max(10.0, settings.grace_seconds * 5)
    reconciler = Reconciler(store, antbuddy, deps.alerts, tz=settings.tz, settle_seconds=settle, settle=pipeline.settle)
    reconcile_lock = asyncio.Lock()

    async def fill_today() -> None:
        # Today's calls from before ringbot's records start (a fresh install, a new database) are read from
        # AntBuddy's history for the figures, in a task of their own; nothing to do once the records cover today.
        midnight, _ = figures.period_bounds("today", datetime.now(settings.tz))
        await deps.queues.history.ensure(midnight, wait=0)

    async def reconcile(reason: str) -> None:
        if reconcile_lock.locked():
            return  # one pass at a time; the running one covers this request
        async with reconcile_lock:
            try:
                result = await reconciler.run_once()
                log.info("reconciled reason=%s result=%s", reason, result)
                await fill_today()
            except Exception as exc:  # noqa: BLE001 - next pass will retry from the same watermark
                log.warning("reconcile failed reason=%s error=%s", reason, exc)

    async def reconcile_later(delay: float, reason: str) -> None:
        await asyncio.sleep(delay)
        await reconcile(reason)

    async def on_connected() -> None:
        # Nothing is replayed after a disconnect: read history now, and once more when the calls that ended
        # during the gap have settled into it.
        rt.spawn(reconcile("stream connected"), name="reconcile-connected")
        rt.spawn(reconcile_later(settle + 1.0, "after reconnect settle"), name="reconcile-settled")

    stream = StreamClient(
        url=settings.antbuddy_ws_url,
        account_id=settings.antbuddy_account_id,
        protocol=settings.ws_protocol,
        get_token=antbuddy.auth_token,
        on_event=pipeline.on_event,
        on_connected=on_connected,
    )
    rt = Runtime(settings, deps, metrics, pipeline, outbox, stream, reconciler, slack_identity=identity)
    deps.workspace.update(identity or {})
    if identity is None:
        rt.spawn(retry_slack_token(rt, client), name="slack-auth")
    metrics.gauge_fn("stream_connected", lambda: 1.0 if stream.stats.connected else 0.0)
    metrics.gauge_fn(
        "stream_last_event_age_seconds",
        lambda: (time.time() - stream.stats.last_event_at) if stream.stats.last_event_at else -1.0,
    )
    metrics.gauge_fn("outbox_pending", lambda: float(store.outbox_depth()))
    metrics.gauge_fn("calls_in_memory", lambda: float(len(tracker)))
    metrics.gauge_fn("calls_open", lambda: float(pipeline.open_calls()[0]))
    metrics.gauge_fn("oldest_open_call_seconds", lambda: pipeline.open_calls()[1] or 0.0)
    metrics.gauge_fn("stream_reconnects_total", lambda: float(stream.stats.reconnects))
    metrics.gauge_fn("events_rejected_total", lambda: float(pipeline.stats.rejected + stream.stats.malformed))
    metrics.gauge_fn("outbox_dead", lambda: float(store.outbox_counts().get("dead", 0)))

    def on_antbuddy_call(endpoint: str, seconds: float, ok: bool) -> None:
        metrics.observe("antbuddy_seconds", seconds, endpoint=endpoint)
        metrics.inc("antbuddy_requests_total", endpoint=endpoint, result="ok" if ok else "error")

    antbuddy.stats.observer = on_antbuddy_call

    # APScheduler holds only in-memory interval jobs; work due later is stored as data (bot/ops/scheduled.py).
    scheduler = AsyncIOScheduler(
        timezone="UTC", job_defaults={"misfire_grace_time": 60, "coalesce": True, "max_instances": 1}
    )
    # Before the pipeline runs, so the first alert already gets its escalation job. The daily digest job queues
    # each channel's digest once (bot/queues/daily_digest.py); the outbox posts it.
    daily_digest = DailyDigest(
        store, deps.directory, default_channel=settings.alert_channel, tz=settings.tz, wake=outbox.wake
    )
    jobs = build_jobs(deps, scheduler, daily_digest=daily_digest)
    rt.jobs = jobs
    await outbox.recover()
    # How late the event loop runs, and one log line naming what blocked it past 100 ms.
    rt.loop_lag = loop_lag = LoopLag()
    metrics.gauge_fn("event_loop_lag_seconds", loop_lag.lag)
    rt.spawn(loop_lag.run(), name="loop-lag")
    rt.spawn(pipeline.run(), name="pipeline")
    # Queue alerts watch the same events (read-only); their messages go through the outbox.
    queue_alerts = deps.queues.alerts
    pipeline.observers.append(queue_alerts.on_event)
    metrics.gauge_fn("queue_waiting_disagreements_total", lambda: float(queue_alerts.live.disagreements))
    rt.spawn(queue_alerts.run(), name="queue-alerts")
    rt.spawn(outbox.run(), name="outbox")

    async def run_stream() -> None:
        try:
            await stream.run()
        except StreamAuthError as exc:  # refused before the stream ever worked: a setting to fix, not to retry
            rt.fatal = str(exc)
            rt.stopping.set()

    rt.spawn(run_stream(), name="stream")

    scheduler.add_job(
        reconcile,
        "interval",
        seconds=settings.reconcile_seconds,
        args=["schedule"],
        id="reconcile",
        replace_existing=True,
    )
    scheduler.add_job(deps.directory.refresh_queues, "interval", seconds=300, id="queues", replace_existing=True)
    scheduler.add_job(deps.directory.refresh_agents, "interval", seconds=600, id="agents", replace_existing=True)

    # Jobs are `async def` so they run on the loop thread: plain functions would run in APScheduler's thread
    # pool, and the SQLite connection belongs to this thread.
    async def checkpoint() -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # a busy database: next time
            store.checkpoint()

    async def flush() -> None:
        # People's changes and audit rows the database refused (busy, disk full), written as soon as it can be;
        # what they queued for Slack (an alert's edit, a notice) goes at once.
        held = store.held_changes()
        try:
            store.flush_held()
            store.flush_deferred()
        except sqlite3.OperationalError:
            pass  # still refused: in store.health, which /healthz reports; next second
        if held > store.held_changes():
            outbox.wake()

    async def heartbeat() -> None:
        # Tells `ringbot backfill` a bot owns the outbox; its success or failure keeps /healthz's view of the
        # database's writes fresh (a full disk shows within HEARTBEAT_SECONDS) and writes deferred audit rows.
        try:
            store.set_meta(HEARTBEAT_KEY, f"{time.time():.3f}")
            store.flush_deferred()
        except sqlite3.OperationalError:
            pass  # in store.health, which /healthz reports

    async def prune() -> None:
        try:
            await prune_daily(store, now=time.time(), retention_days=settings.retention_days)
        except sqlite3.OperationalError as exc:
            log.warning("database prune skipped (%s); next run in 24 h", exc)

    scheduler.add_job(checkpoint, "interval", seconds=600, id="checkpoint", replace_existing=True)
    # In memory, not a stored job: a prune missed or repeated costs nothing, and every start runs one soon.
    scheduler.add_job(
        prune,
        "interval",
        hours=24,
        id="prune",
        replace_existing=True,
        next_run_time=datetime.now(UTC) + timedelta(seconds=PRUNE_FIRST_SECONDS),
    )
    await heartbeat()
    scheduler.add_job(heartbeat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat", replace_existing=True)
    scheduler.add_job(flush, "interval", seconds=1, id="flush", replace_existing=True)
    # The daily digest is a stored job, so a restart neither skips nor repeats it; set before the runner starts.
    try:
        if settings.digest_at:
            hour, minute = (int(p) for p in settings.digest_at.split(":"))
            jobs.daily("digest", hour=hour, minute=minute, timezone=settings.timezone, key="digest:daily")
        else:
            jobs.cancel("digest:daily")
    except sqlite3.OperationalError as exc:
        log.warning("daily digest schedule not changed (%s): the stored one stands until the next start", exc)
    jobs.start()
    scheduler.start()
    rt.scheduler = scheduler
    rt.spawn(fill_today(), name="history-fill-today")
    rt.spawn(deps.directory.refresh_queues(), name="refresh-queues")
    rt.spawn(deps.directory.refresh_agents(), name="refresh-agents")

    bolt = build_bolt(deps, client, signing_secret=settings.slack_signing_secret if mode == "http" else None)
    rt.bolt = bolt
    try:
        rt.http_runner, rt.http_port = await start_http(
            bolt if mode == "http" else None,
            settings.http_host,
            settings.http_port,
            signing_secret=settings.slack_signing_secret,
            extra_routes=rt.add_health_routes,
            on_refused=lambda reason: metrics.inc("slack_requests_refused_total", reason=reason),
        )
    except SetupError:
        await shutdown(rt)  # what already started stops in order; the caller prints the one sentence
        raise
    if mode == "socket":
        rt.socket_log = SocketModeLog(
            logging.getLogger("bot.slack.socket_mode"), retry_seconds=SOCKET_MODE_RETRY_SECONDS
        )
        handler = AsyncSocketModeHandler(
            bolt,
            settings.slack_app_token,
            logger=rt.socket_log,  # type: ignore[arg-type]  # a LoggerAdapter: slack_sdk only calls Logger methods
            web_client=client,
            ping_interval=SOCKET_MODE_RETRY_SECONDS,
        )
        rt.socket_handler = handler
        # In the background: slack_sdk retries a failed connection until it works, and start-up must not wait on
        # it (/healthz, the stream and the outbox already run; the log says how the connection fares).
        rt.spawn(handler.connect_async(), name="socket-mode")
    if install_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, rt.stopping.set)
            except (NotImplementedError, RuntimeError):
                pass
    # Start-up objects live for the whole run: freezing them keeps the garbage collector's full passes short,
    # which is what kept /ring acks above 100 ms at p99 (docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    log.info("ringbot started mode=%s http_port=%s db=%s", mode, rt.http_port, settings.db_path)
    return rt


async def shutdown(rt: Runtime, *, timeout: float = 8.0) -> None:
    """Stop taking work, finish in-flight posts, close the stream, checkpoint SQLite."""
    rt.stopping.set()
    deadline = time.monotonic() + timeout
    if rt.socket_handler is not None:
        await _bounded(rt.socket_handler.close_async(), 2.0)
    if rt.scheduler is not None:
        try:
            rt.scheduler.shutdown(wait=False)
        except Exception as exc:  # noqa: BLE001 - shutdown goes on whatever one part does
            log.warning("shutdown step did not finish step=scheduler error=%s", type(exc).__name__)
    await _bounded(rt.stream.stop(), 2.0)
    await _bounded(rt.pipeline.stop(), 1.0)
    await _bounded(
        rt.outbox.stop(max(0.5, deadline - time.monotonic() - 1.5)), max(1.0, deadline - time.monotonic() - 1.0)
    )
    tasks = list(rt.tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if rt.http_runner is not None:
        await _bounded(rt.http_runner.cleanup(), 1.0)
    await _bounded(rt.deps.queues.history.stop(), 1.0)
    rt.deps.store.set_meta(HEARTBEAT_KEY, "0")
    await _bounded(rt.deps.directory.aclose(), 1.0)
    await _bounded(rt.deps.antbuddy.aclose(), 1.0)
    rt.deps.store.close()
    log.info("ringbot stopped cleanly")


async def _bounded(step: Awaitable[object], seconds: float) -> None:
    try:
        await asyncio.wait_for(step, seconds)
    except Exception as exc:  # noqa: BLE001 - shutdown goes on whatever one part does
        log.warning("shutdown step did not finish error=%s", type(exc).__name__)


async def run(settings: Settings, *, mode: str) -> int:
    """`ringbot run`: take the database's instance lock (or wait for it as a standby), start, wait for
    SIGTERM/SIGINT, shut down. Returns the exit code; a credential refused once running had started (AntBuddy's
    before the stream ever worked, Slack's once it answered) raises SetupError after an orderly shutdown."""
    lock = InstanceLock.for_database(settings.db_path)
    try:
        if not lock.try_acquire() and not await run_standby(settings, lock):
            return 0  # stopped while standing by
        rt = await start(settings, mode=mode)
        await rt.stopping.wait()
        await shutdown(rt)
        if rt.fatal:
            raise SetupError(rt.fatal)
        return 0
    finally:
        lock.release()  # only after shutdown: the standby must not start while this one still posts


# -- the standby ------------------------------------------------------------------------------------


def describe_role(metrics: Metrics, *, active: bool) -> None:
    metrics.describe("instance_active", "gauge", "1 on the active ringbot run, 0 on a standby waiting for the lock")
    metrics.gauge_fn("instance_active", lambda: 1.0 if active else 0.0)


async def run_standby(
    settings: Settings,
    lock: InstanceLock,
    *,
    poll: float = STANDBY_POLL_SECONDS,
    stopping: asyncio.Event | None = None,
    install_signals: bool = True,
    on_listening: Callable[[int], None] | None = None,
) -> bool:
    """Wait as a hot standby while another `ringbot run` holds the lock: no stream, no outbox, no Slack
    connection; /healthz answers 200 with `"role": "standby"`, and /slack/events 503 (a load balancer sends
    Slack to the active one). True once the lock is ours (the caller then starts), False when stopped first."""
    stopping = stopping or asyncio.Event()
    started_at = time.time()
    metrics = Metrics()
    describe_role(metrics, active=False)

    def routes(app: web.Application) -> None:
        async def healthz(_: web.Request) -> web.Response:
            doc = {
                "role": "standby",
                "active_pid": lock.holder_pid(),  # the holder's pid when it is on this host
                "lock": str(lock.path),
                "uptime_seconds": round(time.time() - started_at, 1),
                "unhealthy": ["stopping"] if stopping.is_set() else [],
                "status": "unhealthy" if stopping.is_set() else "ok",
            }
            return web.json_response(doc, status=503 if stopping.is_set() else 200)

        async def metrics_page(_: web.Request) -> web.Response:
            return web.Response(
                body=metrics.render().encode(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
            )

        async def not_here(_: web.Request) -> web.Response:
            return web.json_response({"error": "standby: send Slack requests to the active ringbot"}, status=503)

        app.router.add_get("/healthz", healthz)
        app.router.add_get("/metrics", metrics_page)
        app.router.add_post("/slack/events", not_here)

    if install_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stopping.set)
            except (NotImplementedError, RuntimeError):
                pass
    runner, port = await start_http(None, settings.http_host, settings.http_port, extra_routes=routes)
    if on_listening is not None:
        on_listening(port)
    log.info(
        "ringbot standby: another ringbot run holds the database lock=%s holder_pid=%s http_port=%s; "
        "taking over when it stops",
        lock.path,
        lock.holder_pid(),
        port,
    )
    try:
        while not stopping.is_set():
            if lock.try_acquire():
                log.info("ringbot taking over: the database lock is free lock=%s", lock.path)
                return True
            try:
                async with asyncio.timeout(poll):
                    await stopping.wait()
            except TimeoutError:
                pass
        log.info("ringbot standby stopped")
        return False
    finally:
        # The active instance binds the same port in a moment; the gap is the few ms between the two.
        await _bounded(runner.cleanup(), 2.0)


# -- ringbot backfill ------------------------------------------------------------------------------


async def run_backfill(
    settings: Settings,
    since: datetime,
    *,
    out: Callable[[str], None] = print,
    on_page: Callable[[HistoryPage], None] | None = None,
) -> int:
    """`ringbot backfill`: reconcile history since `since` into alerts, then post them unless a running bot
    owns the outbox; `on_page` is told of each page of history read. Returns the exit code."""
    client = build_slack_client(settings.slack_bot_token, settings.slack_api_url)
    deps = build_deps(settings, slack_client=client)
    outbox = command_outbox(deps, client, settings)
    try:
        await deps.directory.refresh_queues()
    except Exception as exc:  # noqa: BLE001 - queue names are nice to have
        log.warning("queue names unavailable error=%s", exc)
    reconciler = Reconciler(deps.store, deps.antbuddy, deps.alerts, tz=settings.tz)
    started = time.monotonic()
    try:
        result = await reconciler.backfill(since.date(), on_page=on_page)
        out(
            f"backfill since {since.date()}: read {result.records} call(s) from AntBuddy's history, "
            f"{result.new_alerts} new alert(s), {result.matched} already known"
            + (f", {result.resolved_by_history} resolved by a later answered call" * bool(result.resolved_by_history))
            + (f", {result.errors} record(s) could not be read (see the log)" if result.errors else "")
        )
        return await send_queued(deps, outbox, started=started, out=out)
    finally:
        await deps.antbuddy.aclose()
        deps.store.close()


def command_outbox(deps: Services, client: AsyncWebClient, settings: Settings) -> Outbox:
    """The outbox of a one-off command (backfill, digest --post), which sends what it queued when no bot runs."""
    return Outbox(
        deps.store,
        client,
        render=alert_renderer(deps),
        kinds=outbox_kinds(deps),
        channel_language=deps.channel_languages.of,
        person_language=deps.languages.of,
        rate_per_second=settings.channel_posts_per_second,
        tz=settings.tz,
    )


async def send_queued(deps: Services, outbox: Outbox, *, started: float, out: Callable[[str], None]) -> int:
    """Post what a one-off command queued, unless a running bot owns the outbox (it sends them). Exit code 0."""
    if bot_is_running(deps.store):
        # Two outboxes on one database could post the same row twice: the running bot sends these.
        out(
            f"ringbot run is running on this database: it posts the {deps.store.outbox_depth()} queued "
            "Slack message(s) itself"
        )
        return 0
    await outbox.recover()
    sent = await outbox.drain(timeout=600.0)
    out(f"posted {sent} Slack messages; {deps.store.outbox_depth()} still pending ({time.monotonic() - started:.1f} s)")
    return 0


# -- ringbot digest --------------------------------------------------------------------------------

COMMAND_FILL_WAIT = 120.0  # seconds a command waits for AntBuddy's history of the day it shows


async def _digest_deps(settings: Settings, day: str) -> tuple[AsyncWebClient, Services, str | None]:
    """The services, queue names, and the day's calls read from history where ringbot's records lack them; the
    sentence saying from when the records start when they still do not cover the day."""
    client = build_slack_client(settings.slack_bot_token, settings.slack_api_url)
    deps = build_deps(settings, slack_client=client)
    try:
        await deps.directory.refresh_queues()
    except Exception as exc:  # noqa: BLE001 - queue names are nice to have
        log.warning("queue names unavailable error=%s", exc)
    since, _ = day_bounds(day, settings.tz)
    with speaking(settings.language):
        note = await deps.queues.records_note(since, wait=COMMAND_FILL_WAIT)
    return client, deps, note


@dataclass(frozen=True)
class DigestPreview:
    """What `ringbot digest --preview` shows: the message as the channel would get it, the sentence saying from
    when ringbot's records start (when they do not cover the day), the chart PNG (None without matplotlib)."""

    message: dict[str, Any]
    note: str | None
    png: bytes | None


async def preview_digest(settings: Settings, day: str, *, lang: str) -> DigestPreview:
    """`ringbot digest --preview`: the digest of `day` in `lang`, from the calls stored (and those history adds for
    the day), with its chart (text bars in the message instead without matplotlib). Sends nothing."""
    _, deps, _ = await _digest_deps(settings, day)
    try:
        now = time.time()
        figures = DigestFigures(
            deps.store, deps.directory, tz=settings.tz, sla=settings.sla_seconds, clock=time.time, scopes=lambda: None
        )
        body = {"day": day, "due_at": now, "queue_ids": None}
        charts = charts_available()
        with speaking(lang):
            note = await deps.queues.records_note(day_bounds(day, settings.tz)[0], wait=0)
            message = await figures.message(body, bars=not charts)
            _, period, _ = await figures.period(body)
            words = chart_words(day, settings.tz, now=now)
        png = await asyncio.to_thread(render_chart, period.hours, words) if charts else None
        return DigestPreview({"text": message.text, "blocks": message.blocks}, note, png)
    finally:
        await deps.antbuddy.aclose()
        deps.store.close()


async def post_digest(settings: Settings, day: str, *, out: Callable[[str], None] = print) -> int:
    """`ringbot digest --post`: the digest of `day` queued now to every alert channel (DAILY_DIGEST rows, as the
    daily job queues them), then sent like backfill's alerts: by the running bot, else by this command."""
    started = time.monotonic()
    client, deps, note = await _digest_deps(settings, day)
    try:
        if note:
            out(note)
        digest = DailyDigest(deps.store, deps.directory, default_channel=settings.alert_channel, tz=settings.tz,
                             wake=lambda: None)  # fmt: skip
        channels = digest.queue_now(day)
        out(f"digest of {day} queued for {len(channels)} channel(s): {', '.join(channels)}")
        return await send_queued(deps, command_outbox(deps, client, settings), started=started, out=out)
    finally:
        await deps.antbuddy.aclose()
        deps.store.close()
