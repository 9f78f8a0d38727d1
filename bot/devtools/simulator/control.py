"""The simulator's control API under /_sim/: inject calls, raw events, bursts, drops, faults (JSON in, JSON out)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web

from bot.devtools.simulator.account import ControlledAccount
from bot.devtools.simulator.directory import AGENT_STATES, Device
from bot.devtools.simulator.scenarios import CallOptions, ScenarioError

log = logging.getLogger(__name__)

MAX_BURST = 100_000


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body is not JSON"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "body must be an object"}), content_type="application/json")
    return body


class ControlApi:
    def __init__(self, sim: ControlledAccount) -> None:
        self.sim = sim

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/_sim/calls", self.calls)
        r.add_post("/_sim/history", self.history)
        r.add_post("/_sim/events", self.events)
        r.add_post("/_sim/burst", self.burst)
        r.add_post("/_sim/drop", self.drop)
        r.add_post("/_sim/faults", self.faults)
        r.add_post("/_sim/faults/clear", self.faults_clear)
        r.add_put("/_sim/devices/{sip_user}", self.device)
        r.add_put("/_sim/agents/{agent}", self.agent)  # pause / ready an agent (the dashboard shows it)
        r.add_post("/_sim/tokens/expire", self.tokens_expire)
        r.add_put("/_sim/credentials", self.credentials)
        r.add_get("/_sim/state", self.state)
        r.add_post("/_sim/traffic", self.traffic)
        r.add_delete("/_sim/traffic", self.traffic_stop)

    async def calls(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            plan = self.sim.plan(str(body.get("scenario", "")), CallOptions.from_json(body))
        except ScenarioError as exc:
            return _bad(str(exc))
        play = self.sim.play(plan, stream=bool(body.get("stream", True)))
        if body.get("wait"):
            await play
        else:
            self.sim.spawn(play)
        return web.json_response(
            {"call_id": plan.call_id, "leg_ids": plan.leg_ids, "scenario": plan.scenario, "record": plan.record}
        )

    async def history(self, request: web.Request) -> web.Response:
        """`{"calls": N, "since": unix, "until": unix}`: N queue calls in history only (a day already under way)."""
        body = await _body(request)
        try:
            count = int(body.get("calls", 0))
            until = float(body.get("until") or self.sim.clock())
            since = float(body.get("since") or until - 3600)
        except (TypeError, ValueError):
            return _bad("calls, since and until must be numbers")
        if not 0 < count <= MAX_BURST:
            return _bad(f"calls must be 1..{MAX_BURST}")
        try:
            plans = self.sim.history_day(count, since, until)
        except ScenarioError as exc:
            return _bad(str(exc))
        return web.json_response(
            {"count": len(plans), "calls": [{"call_id": p.call_id, "scenario": p.scenario, "queue_id": p.queue_id,
                                              "start": p.start} for p in plans]}
        )  # fmt: skip

    async def events(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _bad("body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return _bad("need {name, payload}")
        delivered = await self.sim.emit(body["name"], body.get("payload"))
        return web.json_response({"delivered": delivered})

    async def burst(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            count = int(body.get("count", 0))
            rate = float(body["rate"]) if body.get("rate") else None
        except (TypeError, ValueError):
            return _bad("count and rate must be numbers")
        if not 0 < count <= MAX_BURST:
            return _bad(f"count must be 1..{MAX_BURST}")
        scenario = str(body.get("scenario", "missed_cancel"))
        callers = [None] * count if body.get("repeat_callers") else self.sim.fresh_numbers(count)
        try:
            plans = [self.sim.plan(scenario, CallOptions(speed=0.0, caller=c)) for c in callers]
        except ScenarioError as exc:
            return _bad(str(exc))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tasks = []
        for i, plan in enumerate(plans):
            if rate:
                pause = t0 + i / rate - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                tasks.append(self.sim.spawn(self.sim.play(plan)))
            else:
                await self.sim.play(plan)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return web.json_response(
            {"count": count, "call_ids": [p.call_id for p in plans], "seconds": round(loop.time() - t0, 4)}
        )

    async def drop(self, request: web.Request) -> web.Response:
        return web.json_response({"dropped": await self.sim.stream.drop_all()})

    async def faults(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            count = int(body.get("count", 1))
            delay = float(body.get("delay") or 0)
            status = int(body["status"]) if body.get("status") else (None if delay else 500)
        except (TypeError, ValueError):
            return _bad("count, status and delay must be numbers")
        f = self.sim.faults
        f.count, f.status, f.delay = count, status, delay
        return web.json_response({"count": count, "status": status, "delay": delay})

    async def faults_clear(self, request: web.Request) -> web.Response:
        f = self.sim.faults
        f.count, f.status, f.delay = 0, None, 0.0
        return web.json_response({"cleared": True})

    async def device(self, request: web.Request) -> web.Response:
        body = await _body(request)
        sip_user = request.match_info["sip_user"]
        dev = self.sim.devices.get(sip_user)
        if dev is None:
            dev = self.sim.devices[sip_user] = Device(sip_user, str(body.get("password", "")), True, body.get("agent"))
        if "password" in body:
            dev.password = str(body["password"])
        if "online" in body:
            dev.online = bool(body["online"])
        if "agent" in body:
            dev.agent = body["agent"]
        return web.json_response({"sip_user": sip_user, "online": dev.online, "agent": dev.agent})

    async def agent(self, request: web.Request) -> web.Response:
        """Set an agent's dashboard state: {"status": "ready" | "paused" | "connected" | "wrapup" | "logged_out"}."""
        body = await _body(request)
        status = str(body.get("status", ""))
        if status not in AGENT_STATES:
            return _bad(f"status must be one of: {', '.join(AGENT_STATES)}")
        try:
            ext = self.sim.set_agent_status(request.match_info["agent"], status)
        except KeyError as exc:
            return _bad(str(exc.args[0]), 404)
        return web.json_response({"agent": ext, "status": status})

    async def credentials(self, request: web.Request) -> web.Response:
        """The app id and secret AntBuddy accepts from now on (as when someone rotates the secret in its portal):
        {"app_id": ..., "app_secret": ...}, either or both. Tokens already issued stay valid."""
        body = await _body(request)
        for key in ("app_id", "app_secret"):
            if key in body and (not isinstance(body[key], str) or not body[key]):
                return _bad(f"{key} must be a non-empty string")
        self.sim.app_id = body.get("app_id", self.sim.app_id)
        self.sim.app_secret = body.get("app_secret", self.sim.app_secret)
        changed = [k for k in ("app_id", "app_secret") if k in body]
        return web.json_response({"app_id": self.sim.app_id, "changed": changed})

    async def tokens_expire(self, request: web.Request) -> web.Response:
        return web.json_response({"expired": self.sim.expire_tokens()})

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(self.sim.state())

    async def traffic(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            rate = float(body.get("rate_per_minute", 6))
            duration = float(body.get("duration_seconds", 60))
            speed = float(body.get("speed", 0.05))
        except (TypeError, ValueError):
            return _bad("rate_per_minute, duration_seconds and speed must be numbers")
        if rate <= 0 or duration <= 0 or speed < 0:
            return _bad("rate_per_minute and duration_seconds must be > 0")
        self.sim.start_traffic(rate, duration, speed)
        return web.json_response({"rate_per_minute": rate, "duration_seconds": duration, "started_at": time.time()})

    async def traffic_stop(self, request: web.Request) -> web.Response:
        return web.json_response({"stopped": await self.sim.stop_traffic()})
