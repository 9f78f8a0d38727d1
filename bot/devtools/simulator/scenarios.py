"""Realistic Kazoo call legs for one simulated call: the timed events to emit and the history record (pure).

A call is a set of legs (docs/call-model.md): an inbound A-leg from the carrier (or from an agent's
phone when the agent dials out) and outbound legs the switch originates to phones, queue agents or the
carrier. Each leg yields CHANNEL_CREATE / CHANNEL_ANSWER / CHANNEL_DESTROY. Times are *virtual* seconds
(written in payload durations and timestamps); `speed` turns them into real delivery delays.
"""

from __future__ import annotations

import copy
import hashlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.devtools.simulator.directory import CARRIER_HOST, MEDIA_SERVER, Agent, Directory, Queue, random_mobile

GREGORIAN_OFFSET = 62167219200  # unix = gregorian - this
CREATE, ANSWER, DESTROY = "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY"
PAYLOAD_STYLES = ("kazoo", "snake")

SCENARIOS = (
    "answered",
    "missed_ringout",
    "missed_cancel",
    "missed_busy",
    "missed_voicemail",
    "ringgroup_answered",
    "ringgroup_missed",
    "queue_answered",
    "queue_abandoned",
    "queue_callback",
    "outbound_answered",
    "outbound_unanswered",
    "internal",
    "click_to_call",
)

_SIP_CODES = {"ORIGINATOR_CANCEL": "sip:487", "USER_BUSY": "sip:486", "NO_ANSWER": "sip:480", "LOSE_RACE": "sip:487"}


class ScenarioError(ValueError):
    """Unknown scenario, agent or queue; the message says which."""


@dataclass
class CallOptions:
    """What a caller of the control API may choose; everything else is realistic defaults."""

    caller: str | None = None  # customer number (inbound) — for outbound the customer dialled, if `number` unset
    number: str | None = None  # the customer number dialled by outbound / click_to_call
    did: str | None = None
    queue_id: str | None = None  # id or name
    agents: list[str] | None = None  # extensions, SIP users or usernames
    ring_seconds: int | None = None
    wait_seconds: int | None = None  # queue scenarios: how long the caller is held
    talk_seconds: int | None = None
    speed: float = 0.01  # real seconds per virtual second
    duplicate: bool = False
    shuffle: bool = False
    start: float | None = None  # unix seconds the call starts (default: now)
    reachable: bool = True  # click_to_call, queue_callback: does the customer answer?
    callback_after: int | None = None  # queue_callback: seconds from the caller's hang-up to the queue's callback
    callback_number: str | None = None  # queue_callback: the number the caller keyed in (default: their own)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> CallOptions:
        """Build from a control-API body, ignoring keys that are not options; ScenarioError on bad types."""
        kw: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name in body and body[name] is not None:
                kw[name] = body[name]
        try:
            opts = cls(**kw)
            for n in ("ring_seconds", "wait_seconds", "talk_seconds", "callback_after"):
                v = getattr(opts, n)
                if v is not None:
                    setattr(opts, n, int(v))
            opts.speed = float(opts.speed)
            if opts.start is not None:
                opts.start = float(opts.start)
            if opts.agents is not None and not isinstance(opts.agents, list):
                raise TypeError("agents must be a list")
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"bad call options: {exc}") from None
        if opts.speed < 0:
            raise ScenarioError("speed must be >= 0")
        return opts


@dataclass
class Leg:
    """One channel on the switch. Times are virtual seconds from the call's start."""

    call_id: str
    direction: str  # "inbound" | "outbound" (relative to the switch)
    caller_number: str
    caller_name: str
    request: str  # SIP R-URI user@host
    ccv: dict[str, Any]  # Custom-Channel-Vars on ANSWER/DESTROY
    create_ccv: dict[str, Any] | None = None  # CCVs on CREATE when they differ (carrier A-leg before routing)
    destroy_ccv_extra: dict[str, Any] = field(default_factory=dict)  # e.g. Queue-ID, set once queued
    callee_number: str | None = None
    callee_name: str | None = None
    presence_id: str | None = None
    other_leg: str | None = None
    other_leg_on_create: bool = True
    created: float = 0.0
    answered: float | None = None
    ended: float = 0.0
    cause: str = "NORMAL_CLEARING"
    is_a_leg: bool = False

    @property
    def billing(self) -> int:
        return int(self.ended - self.answered) if self.answered is not None else 0


@dataclass
class CallPlan:
    """Everything the server needs to play one call and record it."""

    scenario: str
    call_id: str  # the A-leg (for click_to_call: the agent device leg, the first leg)
    leg_ids: list[str]
    events: list[tuple[float, str, Any]]  # (real seconds after the call starts, event name, payload)
    record: dict[str, Any]  # history record, written when the call ends
    start: float  # unix seconds
    queue_id: str | None = None
    queue_exit: float | None = None  # real seconds after start when the caller leaves the queue
    # (real seconds after start, record): history as it reads before the call is over (a queue callback the
    # caller asked for is `waiting` in history until the queue calls back); `record` replaces it at the end.
    early_record: tuple[float, dict[str, Any]] | None = None

    @property
    def duration(self) -> float:
        return self.events[-1][0] if self.events else 0.0


def gregorian(unix: float) -> int:
    return int(unix) + GREGORIAN_OFFSET


def _snake_key(key: str) -> str:
    return key.lower().replace("-", "_")


def to_snake(payload: dict[str, Any]) -> dict[str, Any]:
    """The document's key style (`call_id`, `destination_number`, `duration`...), keeping linking fields."""
    request_user = str(payload.get("Request", "")).split("@", 1)[0]
    out: dict[str, Any] = {
        "call_id": payload["Call-ID"],
        "caller_id_number": payload.get("Caller-ID-Number"),
        "destination_number": payload.get("Callee-ID-Number") or request_user,
        "direction": payload.get("Call-Direction"),
        "Timestamp": payload.get("Timestamp"),
    }
    if payload.get("Event-Name") == DESTROY:
        out["duration"] = int(payload.get("Duration-Seconds", "0"))
        out["hangup_cause"] = payload.get("Hangup-Cause")
    if payload.get("Other-Leg-Call-ID"):
        out["other_leg_call_id"] = payload["Other-Leg-Call-ID"]
    ccv = payload.get("Custom-Channel-Vars")
    if ccv:
        out["custom_channel_vars"] = {_snake_key(k): v for k, v in ccv.items()}
    return out


class _Builder:
    """Builds the legs of one call; one method per scenario (`sc_<name>`)."""

    def __init__(
        self, directory: Directory, opts: CallOptions, rng: random.Random, start: float, kazoo_version: int = 4
    ) -> None:
        self.d = directory
        self.o = opts
        self.kazoo_version = kazoo_version
        self.rng = rng
        self.start = start
        self.queue_stat: list[dict[str, Any]] = []
        self.queue: Queue | None = None
        self.queue_exit: float | None = None
        self.early_record: tuple[float, dict[str, Any]] | None = None  # virtual seconds

    # ---- ids and small helpers -------------------------------------------------------------------------
    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def fs_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def recording(self) -> str:
        parts = "-".join(self.hex(8).upper() for _ in range(4))
        return f"call_recording_{parts}@172.16.0.204.mp3"

    def ring(self, default: int) -> int:
        return max(1, self.o.ring_seconds if self.o.ring_seconds is not None else default)

    def talk(self) -> int:
        return max(1, self.o.talk_seconds if self.o.talk_seconds is not None else self.rng.randint(35, 240))

    def caller(self) -> str:
        return self.o.caller or self.rng.choice(self.d.caller_pool)

    def customer(self) -> str:
        return self.o.number or self.o.caller or self.rng.choice(self.d.caller_pool)

    def did(self) -> str:
        return self.o.did or self.d.dids[0]

    def agents(self, default: list[str]) -> list[Agent]:
        keys = self.o.agents or default
        try:
            return [self.d.agent(str(k)) for k in keys]
        except KeyError as exc:
            raise ScenarioError(str(exc.args[0])) from None

    def unix(self, at: float) -> int:
        return int(self.start + at)

    # ---- legs --------------------------------------------------------------------------------------------
    def carrier_a_leg(self) -> Leg:
        caller, did = self.caller(), self.did()
        call_id = f"{self.hex(20)}@{CARRIER_HOST}"
        return Leg(
            call_id=call_id,
            direction="inbound",
            caller_number=caller,
            caller_name=caller,
            request=f"{did}@{CARRIER_HOST}",
            is_a_leg=True,
            other_leg_on_create=False,
            create_ccv={"Account-ID": self.d.account_id},
            ccv={
                "Account-ID": self.d.account_id,
                "Authorizing-Type": "resource",
                "Inception": f"{did}@{CARRIER_HOST}",
                "Resource-ID": self.hex(32),
                "Global-Resource": "false",
                "Bridge-ID": call_id,
            },
        )

    def device_a_leg(self, agent: Agent, dialled: str) -> Leg:
        """An agent's own phone calling out: inbound to the switch, authorized as a device."""
        return Leg(
            call_id=f"{self.hex(16)}-{agent.ext}@10.10.0.{int(agent.ext) % 250}",
            direction="inbound",
            caller_number=agent.ext,
            caller_name=agent.name,
            request=f"{dialled}@{self.d.domain}",
            presence_id=f"{agent.ext}@{self.d.domain}",
            is_a_leg=True,
            other_leg_on_create=False,
            ccv=self.device_ccv(agent),
        )

    def device_ccv(self, agent: Agent) -> dict[str, Any]:
        return {
            "Account-ID": self.d.account_id,
            "Authorizing-Type": "device",
            "Authorizing-ID": agent.device_id,
            "Owner-ID": agent.agent_id,
            "Username": agent.sip_user,
            "Realm": self.d.domain,
        }

    def agent_leg(self, a: Leg, agent: Agent, created: float) -> Leg:
        """A ring-group / device leg bridged from `a`: Other-Leg-Call-ID and CCV Bridge-ID = the A-leg."""
        return Leg(
            call_id=self.fs_uuid(),
            direction="outbound",
            caller_number=a.caller_number,
            caller_name=a.caller_name,
            callee_number=agent.ext,
            callee_name=agent.name,
            request=f"{agent.sip_user}@{self.d.domain}",
            presence_id=f"{agent.ext}@{self.d.domain}",
            other_leg=a.call_id,
            created=created,
            ccv={**self.device_ccv(agent), "Bridge-ID": a.call_id},
        )

    def queue_agent_leg(self, a: Leg, agent: Agent, created: float) -> Leg:
        """An ACDC leg to an agent: Call-ID md5(member)-agent-rand, CCV Agent-ID, no Other-Leg. Kazoo 4.3 names the
        customer's leg in CCV Member-Call-ID; Kazoo 3.x does not (acdc_agent_listener.erl: Account-ID,
        Authorizing-ID, Request-ID, Retain-CID, Agent-ID only), so its agent legs link to nothing until bridged."""
        member_md5 = hashlib.md5(a.call_id.encode()).hexdigest()
        call_id = f"{member_md5}-{agent.agent_id}-{self.hex(8)}"
        if self.kazoo_version == 3:
            ccv: dict[str, Any] = {
                "Account-ID": self.d.account_id,
                "Authorizing-ID": agent.agent_id,
                "Request-ID": self.hex(12),
                "Retain-CID": "true",
                "Agent-ID": agent.agent_id,
            }
        else:
            ccv = {
                "Account-ID": self.d.account_id,
                "Agent-ID": agent.agent_id,
                "Member-Call-ID": a.call_id,
                "Retain-CID": "true",
                "Request-ID": self.hex(12),
                "Original-Caller-ID-Number": a.caller_number,
                "Authorizing-Type": "device",
                "Username": agent.sip_user,
            }
        return Leg(
            call_id=call_id,
            direction="outbound",
            caller_number=a.caller_number,
            caller_name=a.caller_name,
            callee_number=agent.ext,
            callee_name=agent.name,
            request=f"{agent.sip_user}@{self.d.domain}",
            presence_id=f"{agent.ext}@{self.d.domain}",
            created=created,
            ccv=ccv,
        )

    def carrier_b_leg(self, a: Leg, number: str, created: float, caller: Agent) -> Leg:
        """The carrier leg of an outbound call to a customer."""
        return Leg(
            call_id=self.fs_uuid(),
            direction="outbound",
            caller_number=self.d.dids[0],
            caller_name=caller.name,
            callee_number=number,
            callee_name=number,
            request=f"{number}@{CARRIER_HOST}",
            other_leg=a.call_id,
            created=created,
            ccv={
                "Account-ID": self.d.account_id,
                "Authorizing-Type": "resource",
                "Resource-ID": self.hex(32),
                "Global-Resource": "false",
                "Bridge-ID": a.call_id,
            },
        )

    # ---- records -------------------------------------------------------------------------------------------
    def inbound_record(self, a: Leg, status: str, answered_by: Agent | None) -> dict[str, Any]:
        if answered_by is not None:
            callee = {"number": answered_by.sip_user, "type": "user", "username": answered_by.username}
        else:
            callee = {"number": self.did(), "type": "realnumber"}
        return self.record(
            a,
            {"number": a.caller_number, "type": "realnumber"},
            callee,
            "trunking",
            self.did(),
            "to_ab",
            status,
            answered_by is not None,
        )

    def outbound_record(self, a: Leg, agent: Agent, number: str, status: str, talked: bool) -> dict[str, Any]:
        caller = {"number": agent.sip_user, "type": "user", "username": agent.username}
        return self.record(
            a, caller, {"number": number, "type": "realnumber"}, "trunking", None, "from_ab", status, talked
        )

    def record(
        self, a: Leg, caller: dict, callee: dict, klass: str, did: str | None, direction: str, status: str, talked: bool
    ) -> dict[str, Any]:
        return {
            "call_id": a.call_id,
            "caller": caller,
            "callee": callee,
            "class": klass,
            "did_number": did,
            "direction": direction,
            "status_detail": status,
            "duration_seconds": int(a.ended - a.created),
            "unix_timestamp": self.unix(a.created),
            "billing_seconds": a.billing,
            "recording": self.recording() if talked else "",
            "queue_stat": self.queue_stat,
        }

    def stat(self, a: Leg, q: Queue, status: str, entered: float, **fields: Any) -> None:
        self.queue_stat.append(
            {
                "_id": self.hex(24),
                "call_id": a.call_id,
                "queue_id": q.queue_id,
                "__v": 0,
                "org": self.d.org,
                "caller_id_number": a.caller_number,
                "caller_id_name": a.caller_name,
                "status": status,
                "entered_timestamp": self.unix(entered),
                **fields,
            }
        )

    def pick_queue(self) -> Queue:
        try:
            return self.d.queue(self.o.queue_id) if self.o.queue_id else self.d.queues[0]
        except KeyError as exc:
            raise ScenarioError(str(exc.args[0])) from None

    # ---- scenarios: each returns (legs, record) ----------------------------------------------------------
    def sc_answered(self) -> tuple[list[Leg], dict]:
        a = self.carrier_a_leg()
        agent = self.agents(["101"])[0]
        b = self.agent_leg(a, agent, 1)
        r, t = self.ring(8), self.talk()
        b.answered = a.answered = 1 + r
        b.ended = a.ended = 1 + r + t
        a.other_leg = b.call_id
        return [a, b], self.inbound_record(a, "SUCCESS", agent)

    def _ring_out(
        self,
        default_agents: list[str],
        ring: int,
        cause_a: str,
        cause_b: str,
        status: str,
    ) -> tuple[list[Leg], dict]:
        a = self.carrier_a_leg()
        legs = [self.agent_leg(a, ag, 1) for ag in self.agents(default_agents)]
        end = 1 + ring
        for b in legs:
            b.ended, b.cause = end, cause_b
        a.ended, a.cause = end + (1 if cause_a == "NO_ANSWER" else 0), cause_a
        return [a, *legs], self.inbound_record(a, status, None)

    def sc_missed_ringout(self) -> tuple[list[Leg], dict]:
        cause_a = self.rng.choice(["NO_ANSWER", "ORIGINATOR_CANCEL"])
        return self._ring_out(["101", "102"], self.ring(30), cause_a, "NO_ANSWER", "IVR")

    def sc_missed_cancel(self) -> tuple[list[Leg], dict]:
        return self._ring_out(["101", "102"], self.ring(18), "ORIGINATOR_CANCEL", "ORIGINATOR_CANCEL", "CANCELLED")

    def sc_missed_busy(self) -> tuple[list[Leg], dict]:
        return self._ring_out(["101"], self.ring(2), "USER_BUSY", "USER_BUSY", "BUSY")

    def sc_ringgroup_missed(self) -> tuple[list[Leg], dict]:
        return self._ring_out(
            ["101", "102", "103"], self.ring(25), "ORIGINATOR_CANCEL", "ORIGINATOR_CANCEL", "CANCELLED"
        )

    def sc_missed_voicemail(self) -> tuple[list[Leg], dict]:
        """Nobody answers; the callflow falls through to voicemail, which ANSWERS the A-leg: still missed."""
        a = self.carrier_a_leg()
        legs = [self.agent_leg(a, ag, 1) for ag in self.agents(["101", "102"])]
        r = self.ring(20)
        for b in legs:
            b.ended, b.cause = 1 + r, "NO_ANSWER"
        a.answered = 1 + r
        a.ccv = {**a.ccv, "Application-Name": "callflow"}
        a.ended = 1 + r + self.rng.randint(8, 25)
        return [a, *legs], self.inbound_record(a, "IVR", None)

    def sc_ringgroup_answered(self) -> tuple[list[Leg], dict]:
        a = self.carrier_a_leg()
        agents = self.agents(["101", "102", "103"])
        legs = [self.agent_leg(a, ag, 1) for ag in agents]
        winner = self.rng.randrange(len(legs))
        r, t = self.ring(9), self.talk()
        for i, b in enumerate(legs):
            if i == winner:
                b.answered, b.ended = 1 + r, 1 + r + t
            else:
                b.ended, b.cause = 1 + r, "LOSE_RACE"
        a.answered, a.ended, a.other_leg = 1 + r, 1 + r + t, legs[winner].call_id
        return [a, *legs], self.inbound_record(a, "SUCCESS", agents[winner])

    def _queue_a_leg(self) -> tuple[Leg, Queue]:
        """The caller enters a queue: ACDC answers the A-leg at once (hold music); Queue-ID set from then on."""
        queue = self.queue = self.pick_queue()
        a = self.carrier_a_leg()
        a.answered = 1
        # cf_acdc_member sets Queue-ID before it answers: the ANSWER already names the queue the caller waits in
        # (bot/queues/live.py counts waiting callers from it).
        a.ccv = {**a.ccv, "Application-Name": "callflow", "Queue-ID": queue.queue_id}
        a.ccv.pop("Bridge-ID", None)
        a.destroy_ccv_extra = {"Queue-ID": queue.queue_id}
        return a, queue

    def sc_queue_answered(self) -> tuple[list[Leg], dict]:
        a, queue = self._queue_a_leg()
        agent = self.agents(list(queue.exts[:1]))[0]
        wait = max(2, self.o.wait_seconds if self.o.wait_seconds is not None else self.rng.randint(4, 20))
        b = self.queue_agent_leg(a, agent, 2)
        t = self.talk()
        b.answered = 1 + wait
        b.ended = a.ended = 1 + wait + t
        a.other_leg = b.call_id
        self.queue_exit = b.answered
        self.stat(
            a,
            queue,
            "processed",
            1,
            wait_time=wait,
            handled_timestamp=self.unix(1 + wait),
            processed_timestamp=self.unix(a.ended),
            agent_id=agent.agent_id,
            username=agent.username,
            talk_time=t,
            hung_up_by="agent",
            end_call_reason="agent_hungup",
            misses=[],
        )
        return [a, b], self.inbound_record(a, "SUCCESS", agent)

    def sc_queue_abandoned(self) -> tuple[list[Leg], dict]:
        a, queue = self._queue_a_leg()
        candidates = self.agents(list(queue.exts))
        n_agents = min(len(candidates), self.rng.choice([1, 2]) if self.o.agents is None else len(candidates))
        ring = self.ring(15)
        wait = max(3, self.o.wait_seconds if self.o.wait_seconds is not None else 2 + n_agents * (ring + 1) + 5)
        legs, misses, at = [], [], 2.0
        for agent in candidates[:n_agents]:
            if at >= wait:
                break
            b = self.queue_agent_leg(a, agent, at)
            if at + ring < wait:  # rang out before the caller gave up: a miss
                b.ended, b.cause = at + ring, "NO_ANSWER"
                misses.append({"agent_id": agent.agent_id, "reason": "NO_ANSWER", "timestamp": self.unix(b.ended)})
            else:  # still ringing when the caller hangs up
                b.ended, b.cause = float(wait), "ORIGINATOR_CANCEL"
            legs.append(b)
            at = b.ended + 1
        a.ended, a.cause = 1 + wait, "NORMAL_CLEARING"
        self.queue_exit = a.ended
        self.stat(
            a,
            queue,
            "abandoned",
            1,
            wait_time=wait,
            abandoned_timestamp=self.unix(a.ended),
            agent_id=None,
            username=None,
            talk_time=0,
            hung_up_by="member",
            end_call_reason="member_hangup",
            abandoned_reason="member_hangup",
            misses=misses,
        )
        return [a, *legs], self.inbound_record(a, "IVR", None)

    def sc_queue_callback(self) -> tuple[list[Leg], dict]:
        """The caller waits, presses the queue's breakout key and asks to be called back; ACDc hangs up on them
        (NORMAL_CLEARING, like an abandon) and keeps them `waiting`, marked callback, in its stats. Later it rings
        an agent (a leg naming the original call in Member-Call-ID, with CCV Callback-Number) and, once the agent
        answers, dials the callback number on a `callback-…` leg bridged to the agent (Kazoo 4.3 ACDc:
        cf_acdc_member.erl, acdc_agent_listener.erl `maybe_originate_callback`, `do_originate_callback_return`)."""
        a, queue = self._queue_a_leg()
        agent = self.agents(list(queue.exts[:1]))[0]
        wait = max(3, self.o.wait_seconds if self.o.wait_seconds is not None else self.rng.randint(20, 60))
        a.ended, a.cause = 1 + wait, "NORMAL_CLEARING"
        self.queue_exit = a.ended
        number = self.o.callback_number or a.caller_number
        back_at = a.ended + max(1, self.o.callback_after if self.o.callback_after is not None else 30)
        ring = self.ring(4)
        # ACDc's own agent leg (the queue_agent_leg shape), then the CCVs maybe_originate_callback sets
        dev = self.queue_agent_leg(a, agent, back_at)
        dev.caller_name = f"CB:{a.caller_name}"
        dev.other_leg_on_create = False  # bridged to the callback- leg only after the agent answers
        dev.ccv = {
            "Account-ID": self.d.account_id,
            "Authorizing-ID": agent.device_id,
            "Authorizing-Type": "user",
            "Request-ID": self.hex(12),
            "Retain-CID": "true",
            "Agent-ID": agent.agent_id,
            "Member-Call-ID": a.call_id,
            "Callback-Number": number,
        }
        dev.answered = back_at + ring
        out = Leg(
            call_id=f"callback-{self.hex(8)}",
            direction="outbound",
            caller_number=agent.ext,
            caller_name=agent.ext,
            callee_number=number,
            callee_name=number,
            request=f"{number}@{self.d.domain}",
            other_leg=dev.call_id,
            other_leg_on_create=False,
            created=dev.answered + 1,
            ccv={"Account-ID": self.d.account_id, "Authorizing-Type": "user", "Retain-CID": "true"},
        )
        fields = {
            "caller_id_name": f"CB:{a.caller_name}",
            "is_callback": True,
            "agent_id": None,
            "username": None,
            "talk_time": 0,
            "misses": [],
        }
        self.stat(a, queue, "waiting", 1, wait_time=wait, **fields)
        self.early_record = (a.ended + 1, copy.deepcopy(self.inbound_record(a, "IVR", None)))
        self.queue_stat.clear()
        if self.o.reachable:
            t = self.talk()
            out.answered = out.created + self.ring(6)
            out.ended = dev.ended = out.answered + t
            dev.other_leg = out.call_id
            handled = {
                "agent_id": agent.agent_id,
                "username": agent.username,
                "talk_time": t,
                "wait_time": int(dev.answered - 1),
                "handled_timestamp": self.unix(dev.answered),
                "processed_timestamp": self.unix(out.ended),
            }
            self.stat(a, queue, "processed", 1, **{**fields, **handled})
        else:
            out.ended, out.cause = out.created + 30, "NO_ANSWER"
            dev.ended = out.ended
            self.stat(a, queue, "waiting", 1, wait_time=wait, **fields)
        return [a, dev, out], self.inbound_record(a, "IVR", None)

    def _outbound(self, answered: bool) -> tuple[list[Leg], dict]:
        agent = self.agents(["101"])[0]
        number = self.customer()
        a = self.device_a_leg(agent, number)
        b = self.carrier_b_leg(a, number, 1, agent)
        r = self.ring(12)
        if answered:
            t = self.talk()
            b.answered = a.answered = 1 + r
            b.ended = a.ended = 1 + r + t
            a.other_leg = b.call_id
        else:  # the agent gives up before the customer answers
            b.ended = a.ended = 1 + r
            b.cause = a.cause = "ORIGINATOR_CANCEL"
        return [a, b], self.outbound_record(a, agent, number, "SUCCESS" if answered else "CANCELLED", answered)

    def sc_outbound_answered(self) -> tuple[list[Leg], dict]:
        return self._outbound(True)

    def sc_outbound_unanswered(self) -> tuple[list[Leg], dict]:
        return self._outbound(False)

    def sc_internal(self) -> tuple[list[Leg], dict]:
        """Extension to extension, unanswered (the case a bot must NOT alert on): class one_one."""
        pair = self.agents(["101", "102"])
        if len(pair) < 2:
            raise ScenarioError("internal needs two agents: caller and callee")
        caller, callee = pair[0], pair[1]
        a = self.device_a_leg(caller, callee.ext)
        b = self.agent_leg(a, callee, 1)
        b.other_leg_on_create = True
        b.ended = a.ended = 1 + self.ring(20)
        b.cause, a.cause = "NO_ANSWER", "NO_ANSWER"
        rec = self.record(
            a,
            {"number": caller.sip_user, "type": "user", "username": caller.username},
            {"number": callee.sip_user, "type": "user", "username": callee.username},
            "one_one",
            None,
            "from_ab",
            "CANCELLED",
            False,
        )
        return [a, b], rec

    def sc_click_to_call(self) -> tuple[list[Leg], dict]:
        """AntBuddy rings the agent's device (an outbound leg), then dials the customer on a carrier leg."""
        agent = self.agents(["101"])[0]
        number = self.customer()
        dev = Leg(
            call_id=self.fs_uuid(),
            direction="outbound",
            caller_number=number,
            caller_name=number,
            callee_number=agent.ext,
            callee_name=agent.name,
            request=f"{agent.sip_user}@{self.d.domain}",
            presence_id=f"{agent.ext}@{self.d.domain}",
            is_a_leg=True,
            other_leg_on_create=False,
            ccv={**self.device_ccv(agent), "Inception": "click_to_call"},
        )
        dev.answered = float(self.ring(3))
        b = self.carrier_b_leg(dev, number, dev.answered + 1, agent)
        r = self.ring(8) if self.o.ring_seconds is not None else 8
        if self.o.reachable:
            t = self.talk()
            b.answered = b.created + r
            b.ended = dev.ended = b.answered + t
            dev.other_leg = b.call_id
            status = "SUCCESS"
        else:
            b.ended, b.cause = b.created + 30, "NO_ANSWER"
            dev.ended = b.ended
            status = "UNSUCCESS"
        rec = self.outbound_record(dev, agent, number, status, self.o.reachable)
        return [dev, b], rec


def _payload(leg: Leg, name: str, at: float, start: float) -> dict[str, Any]:
    """One Kazoo call event (docs/call-model.md): the leg's facts as of `at`."""
    ccv = dict(leg.ccv)
    if name == CREATE and leg.create_ccv is not None:
        ccv = dict(leg.create_ccv)
    if name == DESTROY:
        ccv.update(leg.destroy_ccv_extra)
    p: dict[str, Any] = {
        "Event-Category": "call_event",
        "Event-Name": name,
        "Call-ID": leg.call_id,
        "Call-Direction": leg.direction,
        "Caller-ID-Number": leg.caller_number,
        "Caller-ID-Name": leg.caller_name,
        "Request": leg.request,
        "To": leg.request,
        "Media-Server": MEDIA_SERVER,
        "Timestamp": gregorian(start + at),
        "Msg-ID": str(int((start + at) * 1_000_000)),
        "Custom-Channel-Vars": ccv,
    }
    if leg.callee_number:
        p["Callee-ID-Number"] = leg.callee_number
        p["Callee-ID-Name"] = leg.callee_name or leg.callee_number
    if leg.presence_id:
        p["Presence-ID"] = leg.presence_id
    if leg.other_leg and (name != CREATE or leg.other_leg_on_create):
        p["Other-Leg-Call-ID"] = leg.other_leg
    if name == CREATE:
        p["Disposition"] = "DELAYED NEGOTIATION" if leg.is_a_leg else "EARLY MEDIA"
    if name == DESTROY:
        answered = leg.answered is not None
        p["Hangup-Cause"] = leg.cause
        if not answered and leg.cause in _SIP_CODES:
            p["Hangup-Code"] = _SIP_CODES[leg.cause]
        p["Disposition"] = "ANSWER" if answered else leg.cause
        p["Duration-Seconds"] = str(int(leg.ended - leg.created))
        p["Billing-Seconds"] = str(leg.billing)
        rang_until = leg.answered if leg.answered is not None else leg.ended
        p["Ringing-Seconds"] = str(int(rang_until - leg.created))
    return p


@dataclass(order=True)
class _Ev:
    at: float  # virtual seconds: when it happened
    rank: tuple[int, int]
    name: str = field(compare=False)
    leg: Leg = field(compare=False)
    payload: dict[str, Any] = field(compare=False)


def _events(legs: list[Leg], start: float) -> list[_Ev]:
    """CREATE/ANSWER/DESTROY of every leg in time order; at equal times: creates (A first), then answers and
    destroys with B-legs before the A-leg (as FreeSWITCH reports a bridge)."""
    out: list[_Ev] = []
    for i, leg in enumerate(legs):
        out.append(_Ev(leg.created, (0, i), CREATE, leg, _payload(leg, CREATE, leg.created, start)))
        if leg.answered is not None:
            out.append(_Ev(leg.answered, (1, -i), ANSWER, leg, _payload(leg, ANSWER, leg.answered, start)))
        out.append(_Ev(leg.ended, (2, -i), DESTROY, leg, _payload(leg, DESTROY, leg.ended, start)))
    out.sort()
    return out


def _shuffle(evs: list[_Ev], rng: random.Random) -> list[tuple[float, _Ev]]:
    """Out-of-order delivery: every B-leg DESTROY after the A-leg's, and one ANSWER after its leg's DESTROY.

    Returns (delivery virtual time, event); delivery times never go backwards (a late event is late).
    """
    order = list(evs)
    a_destroy = next((e for e in order if e.name == DESTROY and e.leg.is_a_leg), None)
    if a_destroy is not None:
        late = [e for e in order if e.name == DESTROY and not e.leg.is_a_leg]
        order = [e for e in order if e not in late]
        rng.shuffle(late)
        idx = order.index(a_destroy) + 1
        order[idx:idx] = late
    answers = [e for e in order if e.name == ANSWER]
    if answers:
        ans = next((e for e in answers if not e.leg.is_a_leg), answers[0])
        own_destroy = next(e for e in order if e.name == DESTROY and e.leg is ans.leg)
        order.remove(ans)
        order.insert(order.index(own_destroy) + 1, ans)
    out, clock = [], 0.0
    for e in order:
        clock = max(clock, e.at)
        out.append((clock, e))
    return out


def build_call(
    scenario: str,
    opts: CallOptions | None,
    directory: Directory,
    *,
    style: str = "kazoo",
    rng: random.Random | None = None,
    now: float | None = None,
    kazoo_version: int = 4,
) -> CallPlan:
    """The timed events and the history record of one `scenario` call (see SCENARIOS), as Kazoo `kazoo_version`
    (3 or 4) emits them."""
    if scenario not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {scenario!r}; one of: {', '.join(SCENARIOS)}")
    if style not in PAYLOAD_STYLES:
        raise ScenarioError(f"unknown payload style {style!r}")
    opts = opts or CallOptions()
    rng = rng or random.Random()
    start = opts.start if opts.start is not None else (now if now is not None else time.time())
    b = _Builder(directory, opts, rng, start, kazoo_version)
    legs, record = getattr(b, f"sc_{scenario}")()
    evs = _events(legs, start)
    timed = _shuffle(evs, rng) if opts.shuffle else [(e.at, e) for e in evs]
    if opts.duplicate:
        timed = _duplicate(timed)
    convert: Callable[[dict], Any] = to_snake if style == "snake" else (lambda p: p)
    events = [(at * opts.speed, e.name, convert(copy.deepcopy(e.payload))) for at, e in timed]
    return CallPlan(
        scenario=scenario,
        call_id=legs[0].call_id,
        leg_ids=[leg.call_id for leg in legs],
        events=events,
        record=record,
        start=start,
        queue_id=b.queue.queue_id if b.queue else None,
        queue_exit=b.queue_exit * opts.speed if b.queue_exit is not None else None,
        early_record=(b.early_record[0] * opts.speed, b.early_record[1]) if b.early_record else None,
    )


def _duplicate(timed: list[tuple[float, _Ev]]) -> list[tuple[float, _Ev]]:
    """Re-send the A-leg's CREATE and DESTROY and every ANSWER right after the original (several publishers)."""
    out: list[tuple[float, _Ev]] = []
    for at, e in timed:
        out.append((at, e))
        if (e.leg.is_a_leg and e.name in (CREATE, DESTROY)) or e.name == ANSWER:
            out.append((at, e))
    return out


# ---- demo traffic ---------------------------------------------------------------------------------------
_MIX: tuple[tuple[str, float], ...] = (
    ("answered", 0.25),
    ("ringgroup_answered", 0.2),
    ("queue_answered", 0.15),
    ("missed_cancel", 0.07),
    ("missed_ringout", 0.05),
    ("ringgroup_missed", 0.04),
    ("missed_busy", 0.02),
    ("missed_voicemail", 0.02),
    ("queue_abandoned", 0.10),
    ("outbound_answered", 0.07),
    ("outbound_unanswered", 0.03),
)


def random_call(rng: random.Random, directory: Directory, *, speed: float = 0.05) -> tuple[str, CallOptions]:
    """A realistic next call: 60% answered, 20% missed, 10% queue abandoned, 10% outbound; callers repeat."""
    scenario = rng.choices([s for s, _ in _MIX], weights=[w for _, w in _MIX])[0]
    if rng.random() < 0.75:
        caller = rng.choice(directory.caller_pool)
    else:
        caller = random_mobile(rng)
    opts = CallOptions(caller=caller, speed=speed, did=rng.choice(directory.dids[:2]))
    if scenario.startswith("queue"):
        opts.queue_id = rng.choice(directory.queues).queue_id
    if scenario in ("answered", "outbound_answered", "outbound_unanswered"):
        opts.agents = [rng.choice([a for a in directory.agents if a.status != "logged_out"]).ext]
    return scenario, opts
