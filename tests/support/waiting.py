"""The one way tests wait for something that happens on the loop: poll, bounded, fail with what was awaited."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

DEADLINE = 10.0  # generous: a slow CI machine must not turn a correct run red


async def eventually(
    predicate: Callable[[], Any] | Callable[[], Awaitable[Any]],
    what: str = "condition",
    timeout: float = DEADLINE,
    interval: float = 0.01,
) -> Any:
    """Poll `predicate` (plain or async) until it returns something truthy, and return that; after `timeout`
    seconds fail with `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {value!r})")
        await asyncio.sleep(interval)
