"""What people ask of queues and change about them, below the Slack listeners (handlers/queues.py parses, calls
this, answers): `/ring queues` and `/ring stats` figures, `/ring watches`, a watch set or dropped, and "I'm on it" on
a queue alert. Each change is validated here and written with its audit row in one transaction through
`Store.write_or_hold`, so a busy or full database keeps it until it can be written (Saved.LATER) instead of losing
it; NotSaved when too many already wait."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.alerts.reconcile import HistoryFill
from bot.queues import figures as fig
from bot.queues.daily_digest import build_period
from bot.queues.health import Thresholds
from bot.queues.queue_alerts import QueueAlerts
from bot.slack.blocks import escape
from bot.slack.format import day_and_time
from bot.slack.render.digest import Period, render_stats
from bot.slack.text import say
from storage import NotSaved, Saved, Store
from storage.queues import QueueStore, WatchRow, read_off_loop
from storage.rows import OutboxKind

Message = dict[str, object]
# How long a command waits for AntBuddy's history of a period ringbot's records lack; past it, it answers with
# what it has and says from when (the read goes on, and the next ask counts it).
FILL_WAIT = 4.0


class NotAdmin(Exception):
    """Only admins change queue alerts (the attempt is audited)."""


class UnknownBreach(Exception):
    """The button names a queue breach ringbot does not have (a forged value, a wiped database)."""


class AlreadyOnIt(Exception):
    """Someone pressed "I'm on it" first."""

    def __init__(self, owner: str | None) -> None:
        super().__init__("someone is already on it")
        self.owner = owner


@dataclass(frozen=True)
class WatchList:
    """What `/ring watches` shows: each watch, the channel its alerts go to, and which queues are breached now."""

    rows: list[WatchRow]
    channels: dict[str, str]
    breached: set[str]


class QueueService:
    """Reads for the queue commands, and people's changes to queue alerts."""

    def __init__(
        self,
        store: Store,
        alerts: QueueAlerts,
        history: HistoryFill,
        *,
        default_channel: str,
        tz: tzinfo,
        sla: int,
        wake: Callable[[], None],
    ) -> None:
        self.store = store
        self.qstore = QueueStore(store)
        self.alerts = alerts
        self.history = history
        self.default_channel = default_channel
        self.tz = tz
        self.sla = sla
        self.wake_outbox = wake

    # -- reads ----------------------------------------------------------------------------------------
    def channel_for(self, queue_id: str, queue_name: str | None) -> str:
        """Where the queue's alerts go: its route, else the default alert channel."""
        routed = self.store.route_for(queue_id=queue_id, did_key=None, queue_name=queue_name)
        return routed or self.default_channel

    async def today(self, now: datetime) -> dict[str | None, fig.Figures]:
        """Today's figures per queue id, from ringbot's own call records (added up in a worker thread)."""
        since, until = fig.period_bounds("today", now)
        rows = await read_off_loop(self.store, lambda qstore: qstore.outcome_counts(since, until, sla=self.sla))
        return fig.counted_by_queue(rows)

    async def records_note(self, since: float, *, wait: float = FILL_WAIT) -> str | None:
        """Have the records cover [since, now): what they lack is read from AntBuddy's history (waiting `wait`
        seconds at most). None when they do; else the sentence saying from when they start."""
        if await self.history.ensure(since, wait=wait):
            return None
        return say("records.from", time=day_and_time(self.history.records_since(), self.tz))

    def waiting_now(self, queue_id: str) -> list[tuple[str | None, float]]:
        """(caller, seconds waited) of everyone waiting in the queue now, longest first."""
        return self.alerts.waiting_now(queue_id)

    async def stats(self, period: str, *, now: datetime, names: dict[str, str], queue_id: str | None) -> Message:
        """`/ring stats [period] [queue]`, after reading what ringbot's records lack of the period from history."""
        since, until = fig.period_bounds(period, now)
        note = await self.records_note(since)
        label = say(f"stats.period.{period}")
        in_queue = say("stats.in_queue", queue=escape(names.get(queue_id, queue_id), limit=80)) if queue_id else ""
        title = say("stats.title", period=label, queue=in_queue)
        only = {queue_id} if queue_id else None

        def build(qstore: QueueStore) -> Period:
            return build_period(
                qstore, since, until, title=title, tz=self.tz, sla=self.sla, names=names, queue_ids=only
            )

        p = await read_off_loop(self.store, build)
        return render_stats(p, empty_label=label, note=note)

    def watches(self) -> WatchList:
        rows = self.qstore.watches()
        channels = {r["queue_id"]: self.channel_for(r["queue_id"], r["queue_name"]) for r in rows}
        breached = {t.breach.queue_id for t in self.alerts.open_breaches()}
        return WatchList(rows, channels, breached)

    # -- changes --------------------------------------------------------------------------------------
    def set_watch(
        self, queue_id: str, queue_name: str | None, thresholds: Thresholds, *, by: str, is_admin: bool
    ) -> Saved:
        """Watch the queue with these thresholds (replacing any it had). NotAdmin for anyone else."""
        self._admin(queue_id, by, is_admin)
        spec = thresholds.spec()

        def change(store: Store) -> None:
            QueueStore(store).set_watch(queue_id, queue_name, spec, by)
            store.add_audit("queue_watch", "ok", slack_user=by, detail=f"{queue_id} {spec}")
            self.alerts.reload()

        return self.store.write_or_hold(change, what=f"queue_watch {queue_id}")

    def drop_watch(self, queue_id: str, *, by: str, is_admin: bool) -> tuple[Saved, bool]:
        """Stop watching the queue; (how it was saved, whether it was watched). NotAdmin for anyone else."""
        self._admin(queue_id, by, is_admin)
        watched = any(r["queue_id"] == queue_id for r in self.qstore.watches())

        def change(store: Store) -> None:
            dropped = QueueStore(store).drop_watch(queue_id)
            store.add_audit("queue_watch", "off" if dropped else "unchanged", slack_user=by, detail=queue_id)
            self.alerts.reload()

        return self.store.write_or_hold(change, what=f"queue_watch {queue_id} off"), watched

    def where_shown(self, breach_id: int) -> str | None:
        """The channel a breach's queue alert (and its "I'm on it") is posted in; None for a breach we do not have."""
        breach = self.qstore.breach(breach_id)
        return breach["channel"] if breach is not None else None

    def claim(self, breach_id: int, user: str) -> Saved:
        """ "I'm on it": the first person to press it owns the breach, and its message says so (an edit, queued in
        the same transaction). AlreadyOnIt when someone was first; UnknownBreach for a breach we do not have."""
        breach = self.qstore.breach(breach_id)
        if breach is None:
            raise UnknownBreach(breach_id)
        if breach["owner"]:
            raise AlreadyOnIt(breach["owner"])
        channel = breach["channel"]

        def change(store: Store) -> None:
            took = QueueStore(store).take_breach(breach_id, user)
            store.add_audit("queue_on_it", "ok" if took else "taken", slack_user=user, detail=str(breach_id))
            if took:
                store.enqueue(OutboxKind.QUEUE_ALERT, channel, body={"breach_id": breach_id})

        saved = self.store.write_or_hold(change, what=f"queue_on_it {breach_id}")
        self.wake_outbox()
        return saved

    def _admin(self, queue_id: str, user: str, is_admin: bool) -> None:
        if not is_admin:
            with contextlib.suppress(NotSaved):  # the refusal stands even if its audit row cannot be kept
                self.store.write_or_hold(
                    lambda store: store.add_audit("queue_watch", "refused", slack_user=user, detail=queue_id),
                    what=f"queue_watch {queue_id} refused",
                )
            raise NotAdmin(user)
