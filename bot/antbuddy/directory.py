"""The one place that fetches AntBuddy's dashboard, queues and agents: a short cache, one request in flight
per kind however many people ask at once, and a deadline so a slow AntBuddy never stalls an answer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast

from bot.antbuddy.models import Agent, Dashboard, Queue

log = logging.getLogger(__name__)

T = TypeVar("T")


class DirectorySource(Protocol):
    """What the directory reads from: `bot.antbuddy.AntBuddyClient`."""

    async def dashboard(self) -> Dashboard: ...

    async def queues(self) -> list[Queue]: ...

    async def agents(self) -> list[Agent]: ...


class Directory:
    """Reads through a `ttl`-second cache. Concurrent callers share one request (single flight); each caller
    waits at most `timeout` seconds (then asyncio.TimeoutError), while the shared request is left to finish
    within the client's own deadline so the next caller may find its answer cached."""

    def __init__(
        self,
        antbuddy: DirectorySource,
        *,
        ttl: float = 5.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._antbuddy = antbuddy
        self.ttl = ttl
        self.timeout = timeout
        self._clock = clock
        self._cache: dict[str, tuple[float, object]] = {}  # kind -> (fetched at, the answer of that kind)
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._queue_names: dict[str, str] = {}
        self._agent_names: dict[str, str] = {}
        self.fetches: dict[str, int] = {}  # requests actually sent, per kind (tests and /metrics)

    async def dashboard(self) -> Dashboard:
        """Agent states and queue figures."""
        return await self._get("dashboard", self._fetch_dashboard)

    async def queues(self) -> list[Queue]:
        """Ids, names, member agents."""
        return await self._get("queues", self._fetch_queues)

    async def agents(self) -> list[Agent]:
        """Ids, usernames, names, extensions."""
        return await self._get("agents", self._antbuddy.agents)

    async def refresh_queues(self) -> None:
        """Fetch the queue list now (scheduled every few minutes) so alert rendering has names; never raises."""
        self._cache.pop("queues", None)
        try:
            await self.queues()
        except Exception as exc:  # noqa: BLE001 - a background refresh logs and waits for the next run
            log.warning("directory refresh failed kind=queues error=%s", type(exc).__name__)

    async def refresh_agents(self) -> None:
        """Fetch the agent list now so alerts can show names instead of extensions; never raises."""
        self._cache.pop("agents", None)
        try:
            agents = await self.agents()
        except Exception as exc:  # noqa: BLE001 - names are a nicety; the next run tries again
            log.warning("directory refresh failed kind=agents error=%s", type(exc).__name__)
            return
        names: dict[str, str] = {}
        for a in agents:
            if not a.name:
                continue
            for key in (a.agent_id, a.username, *a.extensions):
                if key:
                    names[str(key)] = a.name
        self._agent_names = names

    def agent_name(self, who: str | None) -> str | None:
        """An agent's name by extension, username or id, from the last fetched list (sync, for renderers)."""
        if not who:
            return None
        return self._agent_names.get(str(who))

    def queue_name(self, queue_id: str | None) -> str | None:
        """The queue's name from the last fetched list (sync, for renderers); None when unknown."""
        if not queue_id:
            return None
        return self._queue_names.get(str(queue_id))

    def queue_names(self) -> dict[str, str]:
        """queue id -> name, from the last fetched list."""
        return dict(self._queue_names)

    async def aclose(self) -> None:
        """Cancel requests still in flight (shutdown)."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()

    # ---------------------------------------------------------------------------------------- internals
    async def _fetch_dashboard(self) -> Dashboard:
        dashboard = await self._antbuddy.dashboard()
        for q in dashboard.queues:
            if q.queue_id and q.name:
                self._queue_names.setdefault(str(q.queue_id), q.name)
        return dashboard

    async def _fetch_queues(self) -> list[Queue]:
        queues = await self._antbuddy.queues()
        self._queue_names = {str(q.queue_id): q.name for q in queues if q.queue_id and q.name}
        return queues

    async def _get(self, kind: str, fetch: Callable[[], Awaitable[T]]) -> T:
        hit = self._cache.get(kind)
        if hit is not None and self._clock() - hit[0] < self.ttl:
            return cast(T, hit[1])  # each kind is only ever cached from its own fetch
        task = self._inflight.get(kind)
        if task is None:
            task = asyncio.create_task(self._fetch(kind, fetch), name=f"directory-{kind}")
            self._inflight[kind] = task
            task.add_done_callback(lambda done: self._done(kind, done))
        # shield: one caller giving up must not cancel the request the others are waiting on.
        return cast(T, await asyncio.wait_for(asyncio.shield(task), self.timeout))

    async def _fetch(self, kind: str, fetch: Callable[[], Awaitable[T]]) -> T:
        self.fetches[kind] = self.fetches.get(kind, 0) + 1
        started = time.perf_counter()
        value = await fetch()
        self._cache[kind] = (self._clock(), value)
        log.debug("directory fetched kind=%s ms=%d", kind, (time.perf_counter() - started) * 1000)
        return value

    def _done(self, kind: str, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(kind) is task:
            del self._inflight[kind]
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Retrieved here so a request every waiter gave up on is still logged once, not as "never retrieved".
            log.warning("directory fetch failed kind=%s error=%s", kind, type(exc).__name__)
