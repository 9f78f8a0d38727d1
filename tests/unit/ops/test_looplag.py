"""The loop-lag monitor: a loop blocked on purpose is logged once, naming what ran, and the lag is exported."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from bot.ops.looplag import LoopLag
from bot.ops.metrics import Metrics, describe_ringbot
from bot.queues.figures import by_queue


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # what a query over every call row used to do to the loop


def slow_calls(seconds: float) -> Iterator[object]:
    """Calls that take `seconds` to read: the loop is blocked inside ringbot's own code (figures.by_queue)."""
    time.sleep(seconds)
    yield from ()


async def monitored(block: object, lag: LoopLag) -> None:
    task = asyncio.create_task(lag.run())
    await asyncio.sleep(lag.beat * 3)  # a few quiet beats first
    assert callable(block)
    block()
    await asyncio.sleep(lag.beat * 3)  # the heartbeat runs again and says what blocked it
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def blocked_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "event loop blocked" in r.getMessage()]


def test_a_blocked_loop_is_logged_once_naming_what_ran(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.ops.looplag")
    lag = LoopLag(beat=0.02, threshold=0.1)
    asyncio.run(monitored(lambda: hold_the_loop(0.4), lag))
    # One line for the one block (a loaded test machine may stall the loop elsewhere too: those lines name
    # something else).
    lines = [line for line in blocked_lines(caplog) if "hold_the_loop" in line]
    assert len(lines) == 1 and lag.blocked >= 1, blocked_lines(caplog)
    assert "test_looplag.py:" in lines[0] and int(lines[0].split("for ")[1].split(" ms")[0]) >= 300
    metrics = describe_ringbot(Metrics())
    metrics.gauge_fn("event_loop_lag_seconds", lag.lag)
    text = metrics.render()
    assert "# TYPE ringbot_event_loop_lag_seconds gauge" in text
    value = float(next(v for v in text.splitlines() if v.startswith("ringbot_event_loop_lag_seconds ")).split()[1])
    assert value >= 0.3


def test_the_line_names_ringbot_own_frame_first(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.ops.looplag")
    lag = LoopLag(beat=0.02, threshold=0.1)
    asyncio.run(monitored(lambda: by_queue(slow_calls(0.4), sla=20), lag))  # type: ignore[arg-type]
    (line,) = [line for line in blocked_lines(caplog) if "slow_calls" in line]
    assert "figures.py:" in line and "by_queue (in test_looplag.py:" in line and "slow_calls)" in line


def test_the_lag_is_the_longest_within_the_window() -> None:
    now = [100.0]
    lag = LoopLag(beat=0.05, threshold=0.1, window=60.0, clock=lambda: now[0])
    lag.heartbeat(now[0] - 0.05 - 0.03)  # 30 ms late
    assert lag.lag() == pytest.approx(0.03)
    now[0] += 61
    lag.heartbeat(now[0] - 0.05 - 0.01)
    assert lag.lag() == pytest.approx(0.01)  # the 30 ms fell out of the window
    assert lag.blocked == 0
