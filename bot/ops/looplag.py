"""How late the event loop runs, and what blocked it.

A heartbeat on the loop sleeps BEAT seconds and notes how much later than that it woke: the loop's lag, exported
as `ringbot_event_loop_lag_seconds` (the longest over the last minute). A watchdog thread looks at the heartbeat
every few milliseconds; once it has been silent past the threshold, the watchdog reads the loop thread's Python
stack (`sys._current_frames`) and keeps where it was. When the loop runs again the heartbeat logs ONE line: how
long the loop was blocked and what ran (ringbot's innermost frame, and the innermost frame of all).

Why a watchdog and not asyncio's debug mode (`loop.slow_callback_duration`): debug mode costs every callback
the loop schedules (it records where each was created), which the stream's hot path cannot pay in production,
and it names a slow callback only as the task it stepped; the stack seen while the loop is blocked names the
very line that blocks it, a SQLite query, a loop over rows. The watchdog costs the loop nothing but the
heartbeat's wake-up, BEAT apart."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

BEAT = 0.05  # seconds between two heartbeats
THRESHOLD = 0.1  # a loop blocked longer than this is logged
WINDOW = 60.0  # the metric: the longest lag over this many seconds
_OURS = tuple(str(Path(__file__).resolve().parents[2] / pkg) for pkg in ("bot", "handlers", "storage"))


def _where(frame: FrameType) -> str:
    return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}"


def describe_stack(frame: FrameType | None) -> str:
    """What a thread runs: ringbot's innermost frame, and the innermost of all when that is elsewhere (a library,
    SQLite's module)."""
    if frame is None:
        return "nothing (the thread is gone)"
    inner = frame
    ours: FrameType | None = None
    while frame is not None and ours is None:
        if frame.f_code.co_filename.startswith(_OURS):
            ours = frame
        frame = frame.f_back
    if ours is None:
        return _where(inner)
    return _where(ours) if ours is inner else f"{_where(ours)} (in {_where(inner)})"


class LoopLag:
    """The heartbeat (`run`, a task on the loop) and its watchdog thread (started and stopped by `run`)."""

    def __init__(
        self,
        *,
        beat: float = BEAT,
        threshold: float = THRESHOLD,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.beat = beat
        self.threshold = threshold
        self.window = window
        self.clock = clock
        self.beats = 0
        self.blocked = 0  # times the loop was logged as blocked
        self._lags: deque[tuple[float, float]] = deque(maxlen=int(window / beat) + 1)  # (when, how late)
        self._lock = threading.Lock()
        self._last_beat = clock()
        self._seen: str | None = None  # what the loop thread ran when the watchdog found it blocked
        self._loop_thread: int | None = None
        self._stop = threading.Event()

    def lag(self) -> float:
        """The longest the loop ran late over the last `window` seconds (the metric)."""
        since = self.clock() - self.window
        return max((late for at, late in list(self._lags) if at >= since), default=0.0)

    async def run(self) -> None:
        self._loop_thread = threading.get_ident()
        self._last_beat = self.clock()
        self._stop.clear()
        watchdog = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        watchdog.start()
        try:
            while True:
                before = self.clock()
                await asyncio.sleep(self.beat)
                self.heartbeat(before)
        finally:
            self._stop.set()

    def heartbeat(self, before: float) -> None:
        """One beat: how late it woke (`before`: when it went to sleep); one log line when past the threshold."""
        now = self.clock()
        late = max(0.0, now - before - self.beat)
        with self._lock:
            self._last_beat = now
            seen, self._seen = self._seen, None
        self._lags.append((now, late))
        self.beats += 1
        if late > self.threshold:
            self.blocked += 1
            log.warning("event loop blocked for %.0f ms; it was running %s", late * 1000, seen or "(not seen)")

    def _watch(self) -> None:
        """The watchdog thread: samples the loop thread's stack once per block, while the heartbeat is silent."""
        step = self.threshold / 4  # a block is seen within a quarter of the threshold past it
        while not self._stop.wait(step):
            with self._lock:
                silent = self.clock() - self._last_beat - self.beat
                if silent > self.threshold and self._seen is None:
                    self._seen = self._sample()

    def _sample(self) -> str:
        frame = sys._current_frames().get(self._loop_thread or 0)
        return describe_stack(frame)
