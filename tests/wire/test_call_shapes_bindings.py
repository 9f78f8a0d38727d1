"""CHANNEL_BRIDGE is subscribed but never required: a server that refuses that binding keeps the stream going."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.stream.client import BINDINGS, OPTIONAL_BINDINGS, StreamClient
from tests.wire.stream_support import ACCOUNT, Sink, Tokens, call_event, sim_backend, wait_until

pytestmark = pytest.mark.timeout(20)


async def test_a_server_refusing_the_bridge_binding_still_delivers_the_three_documented_ones() -> None:
    sink, tokens = Sink(), Tokens()
    async with sim_backend("kazoo") as server:
        authorize = server.authz.__call__

        async def refuse_bridge(body: dict[str, Any]) -> str | None:
            if body.get("binding") in OPTIONAL_BINDINGS:
                return "unknown binding"
            return await authorize(body)

        server.server.authorize = refuse_bridge  # type: ignore[attr-defined]
        client = StreamClient(
            url=server.url,
            account_id=ACCOUNT,
            protocol="kazoo",
            get_token=tokens,
            on_event=sink,
            backoff_initial=0.05,
            backoff_max=0.2,
            connect_timeout=3.0,
            auth_settle_seconds=0.2,
        )
        task = asyncio.create_task(client.run())
        try:
            assert await client.wait_connected(5.0)
            await wait_until(lambda: client.stats.refused_bindings == ["call.CHANNEL_BRIDGE.*"], what="refusal seen")
            deadline = asyncio.get_running_loop().time() + 5.0
            while "after-refusal" not in sink.call_ids():
                assert asyncio.get_running_loop().time() < deadline, "no event after the bridge binding was refused"
                await server.emit("CHANNEL_DESTROY", call_event("after-refusal"))
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # past auth_settle_seconds: a token refusal would have reconnected by now
            assert tokens.issued == ["tok-1"] and client.stats.reconnects == 0 and not task.done()
            assert "call.CHANNEL_BRIDGE.*" in BINDINGS
        finally:
            await client.stop()
            await asyncio.wait_for(task, 5.0)
