"""Realistic call-event payloads for the events/tracker tests (the Kazoo shapes in docs/call-model.md).

Two key styles: "kazoo" (raw Kazoo 3.x AMQP keys, `Call-ID`, strings for seconds) and "snake" (AntBuddy's
documented names, `call_id`, numbers for seconds, `Timestamp` still gregorian). Scenarios list the events
in the order the switch emits them, and say what the tracker must decide.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from bot.calls.classify import Outcome

ACCOUNT = "4b31dd1d32ce6d249897c06332375d65"
DID = "02873019555"
CUSTOMER = "0909123456"
HOST = "203.0.113.10"
REALM = "acme.example.com"
QUEUE = "c0ffee00c0ffee00c0ffee00c0ffee00"
T0 = 63882872100  # gregorian seconds: 2024-05-14 02:15:00 UTC
AGENTS = {"101": "user_ag01", "102": "user_ag02", "103": "user_ag03", "104": "user_ag04"}

Payload = tuple[str, dict[str, Any]]

# -- Kazoo example payloads, verbatim (trimmed "..." keys kept: unknown fields must be tolerated) -------------------

ANSWERED_7_1: list[Payload] = [
    (
        "CHANNEL_CREATE",
        {
            "Event-Category": "call_event",
            "Event-Name": "CHANNEL_CREATE",
            "Call-ID": "5e2a91c07d1b4f1e8a3b@203.0.113.10",
            "Call-Direction": "inbound",
            "Caller-ID-Name": "0909123456",
            "Caller-ID-Number": "0909123456",
            "Request": "02873019555@203.0.113.10",
            "To": "02873019555@203.0.113.10",
            "From": "0909123456@203.0.113.10",
            "Disposition": "DELAYED NEGOTIATION",
            "Media-Server": "fs01.example.com",
            "Timestamp": 63882872102,
            "Msg-ID": "1715652902183224",
            "Custom-Channel-Vars": {"Account-ID": ACCOUNT},
        },
    ),
    (
        "CHANNEL_CREATE",
        {
            "Event-Name": "CHANNEL_CREATE",
            "Call-ID": "a4f0c7e2-11b2-4d1e-8c3f-5e9a2b7d6c01",
            "Call-Direction": "outbound",
            "Other-Leg-Call-ID": "5e2a91c07d1b4f1e8a3b@203.0.113.10",
            "Caller-ID-Number": "0909123456",
            "Caller-ID-Name": "0909123456",
            "Callee-ID-Number": "101",
            "Callee-ID-Name": "Agent 01",
            "Request": "user_ag01@acme.example.com",
            "Presence-ID": "101@acme.example.com",
            "Timestamp": 63882872103,
            "Msg-ID": "1715652903021177",
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Authorizing-Type": "device",
                "Authorizing-ID": "d509114b66efabf32dfd78dc464b46dd",
                "Owner-ID": "699ed7e3d583e2577ac017c575f87262",
                "Username": "user_ag01",
                "Realm": REALM,
                "Bridge-ID": "5e2a91c07d1b4f1e8a3b@203.0.113.10",
            },
        },
    ),
    (
        "CHANNEL_ANSWER",
        {
            "Event-Name": "CHANNEL_ANSWER",
            "Call-ID": "a4f0c7e2-11b2-4d1e-8c3f-5e9a2b7d6c01",
            "Call-Direction": "outbound",
            "Other-Leg-Call-ID": "5e2a91c07d1b4f1e8a3b@203.0.113.10",
            "Callee-ID-Number": "101",
            "Timestamp": 63882872111,
            "Custom-Channel-Vars": {"Account-ID": ACCOUNT, "Authorizing-Type": "device", "Username": "user_ag01"},
        },
    ),
    (
        "CHANNEL_ANSWER",
        {
            "Event-Name": "CHANNEL_ANSWER",
            "Call-ID": "5e2a91c07d1b4f1e8a3b@203.0.113.10",
            "Call-Direction": "inbound",
            "Other-Leg-Call-ID": "a4f0c7e2-11b2-4d1e-8c3f-5e9a2b7d6c01",
            "Caller-ID-Number": "0909123456",
            "Timestamp": 63882872111,
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Authorizing-Type": "resource",
                "Inception": "02873019555@203.0.113.10",
                "Bridge-ID": "5e2a91c07d1b4f1e8a3b@203.0.113.10",
            },
        },
    ),
    (
        "CHANNEL_DESTROY",
        {
            "Event-Name": "CHANNEL_DESTROY",
            "Call-ID": "a4f0c7e2-11b2-4d1e-8c3f-5e9a2b7d6c01",
            "Call-Direction": "outbound",
            "Hangup-Cause": "NORMAL_CLEARING",
            "Disposition": "ANSWER",
            "Duration-Seconds": "69",
            "Billing-Seconds": "61",
            "Ringing-Seconds": "1",
            "Timestamp": 63882872172,
            "...": "...",
        },
    ),
    (
        "CHANNEL_DESTROY",
        {
            "Event-Name": "CHANNEL_DESTROY",
            "Call-ID": "5e2a91c07d1b4f1e8a3b@203.0.113.10",
            "Call-Direction": "inbound",
            "Other-Leg-Call-ID": "a4f0c7e2-11b2-4d1e-8c3f-5e9a2b7d6c01",
            "Caller-ID-Number": "0909123456",
            "Request": "02873019555@203.0.113.10",
            "Hangup-Cause": "NORMAL_CLEARING",
            "Disposition": "ANSWER",
            "Duration-Seconds": "70",
            "Billing-Seconds": "61",
            "Ringing-Seconds": "0",
            "Timestamp": 63882872172,
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Authorizing-Type": "resource",
                "Inception": "02873019555@203.0.113.10",
                "Resource-ID": "3f2c1e...",
                "Global-Resource": "false",
            },
        },
    ),
]

MISSED_7_2: list[Payload] = [
    (
        "CHANNEL_CREATE",
        {
            "Event-Name": "CHANNEL_CREATE",
            "Call-ID": "7c0d4e2b9a1f43c6b2d8@203.0.113.10",
            "Call-Direction": "inbound",
            "Caller-ID-Number": "0909123456",
            "Request": "02873019555@203.0.113.10",
            "Timestamp": 63882875400,
            "Custom-Channel-Vars": {"Account-ID": ACCOUNT},
        },
    ),
    (
        "CHANNEL_CREATE",
        {
            "Event-Name": "CHANNEL_CREATE",
            "Call-ID": "0b9e3f1a-6c2d-4a8e-9f10-3d7c5b2a1e44",
            "Call-Direction": "outbound",
            "Other-Leg-Call-ID": "7c0d4e2b9a1f43c6b2d8@203.0.113.10",
            "Caller-ID-Number": "0909123456",
            "Callee-ID-Number": "101",
            "Request": "user_ag01@acme.example.com",
            "Timestamp": 63882875401,
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Authorizing-Type": "device",
                "Username": "user_ag01",
                "Bridge-ID": "7c0d4e2b9a1f43c6b2d8@203.0.113.10",
            },
        },
    ),
    (
        "CHANNEL_CREATE",
        {
            "Event-Name": "CHANNEL_CREATE",
            "Call-ID": "e61a2d07-98b4-4f53-a1c6-74d0b8e3f295",
            "Call-Direction": "outbound",
            "Other-Leg-Call-ID": "7c0d4e2b9a1f43c6b2d8@203.0.113.10",
            "Caller-ID-Number": "0909123456",
            "Callee-ID-Number": "102",
            "Request": "user_ag02@acme.example.com",
            "Timestamp": 63882875401,
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Authorizing-Type": "device",
                "Username": "user_ag02",
                "Bridge-ID": "7c0d4e2b9a1f43c6b2d8@203.0.113.10",
            },
        },
    ),
    (
        "CHANNEL_DESTROY",
        {
            "Event-Name": "CHANNEL_DESTROY",
            "Call-ID": "7c0d4e2b9a1f43c6b2d8@203.0.113.10",
            "Call-Direction": "inbound",
            "Caller-ID-Number": "0909123456",
            "Request": "02873019555@203.0.113.10",
            "Hangup-Cause": "ORIGINATOR_CANCEL",
            "Disposition": "ORIGINATOR_CANCEL",
            "Duration-Seconds": "25",
            "Billing-Seconds": "0",
            "Ringing-Seconds": "1",
            "Timestamp": 63882875425,
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Authorizing-Type": "resource",
                "Inception": "02873019555@203.0.113.10",
                "Bridge-ID": "7c0d4e2b9a1f43c6b2d8@203.0.113.10",
            },
        },
    ),
    (
        "CHANNEL_DESTROY",
        {
            "Event-Name": "CHANNEL_DESTROY",
            "Call-ID": "0b9e3f1a-6c2d-4a8e-9f10-3d7c5b2a1e44",
            "Call-Direction": "outbound",
            "Callee-ID-Number": "101",
            "Hangup-Cause": "ORIGINATOR_CANCEL",
            "Hangup-Code": "sip:487",
            "Duration-Seconds": "24",
            "Billing-Seconds": "0",
            "Timestamp": 63882875425,
            "...": "...",
        },
    ),
    (
        "CHANNEL_DESTROY",
        {
            "Event-Name": "CHANNEL_DESTROY",
            "Call-ID": "e61a2d07-98b4-4f53-a1c6-74d0b8e3f295",
            "Call-Direction": "outbound",
            "Callee-ID-Number": "102",
            "Hangup-Cause": "ORIGINATOR_CANCEL",
            "Hangup-Code": "sip:487",
            "Duration-Seconds": "24",
            "Billing-Seconds": "0",
            "Timestamp": 63882875425,
            "...": "...",
        },
    ),
]

ABANDONED_7_3: list[Payload] = [
    (
        "CHANNEL_CREATE",
        {
            "Event-Name": "CHANNEL_CREATE",
            "Call-ID": "2d8f6a1c0e5b47a9c3f1@203.0.113.10",
            "Call-Direction": "inbound",
            "Caller-ID-Number": "0909123456",
            "Request": "02873019555@203.0.113.10",
            "Timestamp": 63882879000,
            "Custom-Channel-Vars": {"Account-ID": ACCOUNT},
        },
    ),
    (
        "CHANNEL_ANSWER",
        {
            "Event-Name": "CHANNEL_ANSWER",
            "Call-ID": "2d8f6a1c0e5b47a9c3f1@203.0.113.10",
            "Call-Direction": "inbound",
            "Caller-ID-Number": "0909123456",
            "Timestamp": 63882879001,
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Application-Name": "callflow",
                "Authorizing-Type": "resource",
                "Inception": "02873019555@203.0.113.10",
            },
        },
    ),
    (
        "CHANNEL_CREATE",
        {
            "Event-Name": "CHANNEL_CREATE",
            "Call-ID": "9b1f0c7d2e3a4b5c6d7e8f9a0b1c2d3e-6a1d2b3c4d5e6f708192a3b4c5d6e7f8-3fa91c2e",
            "Call-Direction": "outbound",
            "Caller-ID-Number": "0909123456",
            "Callee-ID-Number": "101",
            "Request": "user_ag01@acme.example.com",
            "Timestamp": 63882879002,
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Agent-ID": "6a1d2b3c4d5e6f708192a3b4c5d6e7f8",
                "Member-Call-ID": "2d8f6a1c0e5b47a9c3f1@203.0.113.10",
                "Retain-CID": "true",
                "Request-ID": "a1b2c3d4e5f6",
                "Original-Caller-ID-Number": "0909123456",
            },
        },
    ),
    (
        "CHANNEL_DESTROY",
        {
            "Event-Name": "CHANNEL_DESTROY",
            "Call-ID": "9b1f0c7d2e3a4b5c6d7e8f9a0b1c2d3e-6a1d2b3c4d5e6f708192a3b4c5d6e7f8-3fa91c2e",
            "Call-Direction": "outbound",
            "Hangup-Cause": "NO_ANSWER",
            "Duration-Seconds": "15",
            "Billing-Seconds": "0",
            "Timestamp": 63882879017,
            "Custom-Channel-Vars": {
                "Agent-ID": "6a1d2b3c4d5e6f708192a3b4c5d6e7f8",
                "Member-Call-ID": "2d8f6a1c0e5b47a9c3f1@203.0.113.10",
                "...": "...",
            },
        },
    ),
    (
        "CHANNEL_DESTROY",
        {
            "Event-Name": "CHANNEL_DESTROY",
            "Call-ID": "2d8f6a1c0e5b47a9c3f1@203.0.113.10",
            "Call-Direction": "inbound",
            "Caller-ID-Number": "0909123456",
            "Request": "02873019555@203.0.113.10",
            "Hangup-Cause": "NORMAL_CLEARING",
            "Disposition": "ANSWER",
            "Duration-Seconds": "48",
            "Billing-Seconds": "47",
            "Timestamp": 63882879048,
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Authorizing-Type": "resource",
                "Inception": "02873019555@203.0.113.10",
                "Queue-ID": QUEUE,
            },
        },
    ),
]

# The AntBuddy document's own (snake_case) shape (docs/antbuddy-wire.md).
DOC_STYLE_DESTROY = {
    "call_id": "7c0d4e2b9a1f43c6b2d8@203.0.113.10",
    "caller_id_number": "0909123456",
    "destination_number": "02873019555",
    "direction": "inbound",
    "duration": 25,
    "hangup_cause": "ORIGINATOR_CANCEL",
    "Timestamp": 63882875425,
}


def copy_events(events: list[Payload]) -> list[Payload]:
    return [(name, copy.deepcopy(body)) for name, body in events]


# -- a builder for every other scenario, in either key style -----------------------------------------------

_KAZOO_CCV = {
    "bridge_id": "Bridge-ID",
    "member_call_id": "Member-Call-ID",
    "queue_id": "Queue-ID",
    "agent_id": "Agent-ID",
    "authorizing_type": "Authorizing-Type",
    "username": "Username",
}


@dataclass
class Leg:
    """One leg as the switch sees it; every event of the leg carries these (as Kazoo's do)."""

    call_id: str
    direction: str
    caller: str
    callee: str | None = None  # Callee-ID-Number (an agent's extension, or the customer on a carrier leg)
    request: str | None = None  # user@host
    other_leg: str | None = None
    ccv: dict[str, str] = field(default_factory=dict)  # snake keys of _KAZOO_CCV


@dataclass
class Script:
    """Collects one call's events in emission order."""

    style: str = "kazoo"  # "kazoo" | "snake"
    events: list[Payload] = field(default_factory=list)

    def _body(self, name: str, leg: Leg, t: int) -> dict[str, Any]:
        if self.style == "kazoo":
            body: dict[str, Any] = {
                "Event-Category": "call_event",
                "Event-Name": name,
                "Call-ID": leg.call_id,
                "Call-Direction": leg.direction,
                "Caller-ID-Number": leg.caller,
                "Caller-ID-Name": leg.caller,
                "Timestamp": t,
                "Msg-ID": str((t - 62167219200) * 1_000_000),
            }
            if leg.callee:
                body["Callee-ID-Number"] = leg.callee
            if leg.request:
                body["Request"] = leg.request
                body["To"] = leg.request
            if leg.other_leg:
                body["Other-Leg-Call-ID"] = leg.other_leg
            ccv = {"Account-ID": ACCOUNT, "Realm": REALM}
            ccv.update({_KAZOO_CCV[k]: v for k, v in leg.ccv.items()})
            body["Custom-Channel-Vars"] = ccv
            return body
        body = {"call_id": leg.call_id, "direction": leg.direction, "caller_id_number": leg.caller, "Timestamp": t}
        destination = leg.callee or (leg.request.split("@")[0] if leg.request else None)
        if destination:
            body["destination_number"] = destination
        if leg.other_leg:
            body["other_leg_call_id"] = leg.other_leg
        body["custom_channel_vars"] = {"account_id": ACCOUNT, **leg.ccv}
        return body

    def create(self, leg: Leg, t: int) -> Script:
        self.events.append(("CHANNEL_CREATE", self._body("CHANNEL_CREATE", leg, t)))
        return self

    def answer(self, leg: Leg, t: int) -> Script:
        self.events.append(("CHANNEL_ANSWER", self._body("CHANNEL_ANSWER", leg, t)))
        return self

    def destroy(self, leg: Leg, t: int, cause: str, duration: int, billing: int = 0) -> Script:
        body = self._body("CHANNEL_DESTROY", leg, t)
        if self.style == "kazoo":
            body.update(
                {
                    "Hangup-Cause": cause,
                    "Duration-Seconds": str(duration),
                    "Billing-Seconds": str(billing),
                    "Ringing-Seconds": "1",
                }
            )
        else:
            body.update({"hangup_cause": cause, "duration": duration, "billing_seconds": billing})
        self.events.append(("CHANNEL_DESTROY", body))
        return self


@dataclass
class Scenario:
    kind: str
    events: list[Payload]
    outcome: Outcome | None  # None: no decision at all (internal call)
    call_id: str
    customer: str | None = None
    answered_by: str | None = None
    agents: tuple[str, ...] = ()


def a_leg(n: int, caller: str = CUSTOMER, queue: bool = False) -> Leg:
    ccv = {"authorizing_type": "resource", "bridge_id": f"a{n}@{HOST}"}
    if queue:
        ccv["queue_id"] = QUEUE
    return Leg(f"a{n}@{HOST}", "inbound", caller, request=f"{DID}@{HOST}", ccv=ccv)


def agent_leg(n: int, a: Leg, ext: str, *, linked: bool = True, queue: bool = False) -> Leg:
    ccv = {"authorizing_type": "device", "username": AGENTS[ext]}
    if queue and linked:
        ccv.update(member_call_id=a.call_id, agent_id=f"agent{ext}")
        other = None
    elif linked:
        ccv["bridge_id"] = a.call_id
        other = a.call_id
    else:
        other = None
    return Leg(
        f"b{n}-{ext}-0b9e3f1a",
        "outbound",
        a.caller,
        callee=ext,
        request=f"{AGENTS[ext]}@{REALM}",
        other_leg=other,
        ccv=ccv,
    )


def ring_group(
    n: int,
    style: str,
    exts: tuple[str, ...],
    *,
    answer: int | None,
    a_cause: str,
    voicemail: bool = False,
    linked: bool = True,
    t0: int = T0,
) -> Scenario:
    """An inbound call ringing a group of phones: one answers (the rest LOSE_RACE), or nobody does."""
    a = a_leg(n)
    legs = [agent_leg(n, a, ext, linked=linked) for ext in exts]
    s = Script(style).create(a, t0)
    for leg in legs:
        s.create(leg, t0 + 1)
    if answer is not None:
        s.answer(legs[answer], t0 + 9).answer(a, t0 + 9)
        for i, leg in enumerate(legs):
            if i != answer:
                s.destroy(leg, t0 + 9, "LOSE_RACE", 8)
        s.destroy(legs[answer], t0 + 70, "NORMAL_CLEARING", 69, 61)
        s.destroy(a, t0 + 70, "NORMAL_CLEARING", 70, 61)
        return Scenario("answered", s.events, Outcome.ANSWERED, a.call_id, CUSTOMER, exts[answer], exts)
    b_cause = "ORIGINATOR_CANCEL" if a_cause == "ORIGINATOR_CANCEL" else a_cause
    for leg in legs:
        s.destroy(leg, t0 + 20, b_cause, 19)
    if voicemail:
        s.answer(a, t0 + 21).destroy(a, t0 + 45, "NORMAL_CLEARING", 45, 24)
    else:
        s.destroy(a, t0 + 25, a_cause, 25)
    return Scenario("missed", s.events, Outcome.MISSED, a.call_id, CUSTOMER, None, exts)


def ivr_only(n: int, style: str, t0: int = T0) -> Scenario:
    """IVR answers the caller, who hangs up in the menu: an A-leg ANSWER alone is no human answer."""
    a = a_leg(n)
    s = Script(style).create(a, t0).answer(a, t0 + 1).destroy(a, t0 + 30, "NORMAL_CLEARING", 30, 29)
    return Scenario("ivr", s.events, Outcome.MISSED, a.call_id, CUSTOMER)


def queue_call(n: int, style: str, exts: tuple[str, ...], *, answer: int | None, t0: int = T0) -> Scenario:
    """ACDC: the queue answers the caller at once (hold music) and rings agents one after another."""
    a = a_leg(n, queue=True)
    s = Script(style).create(a, t0).answer(a, t0 + 1)
    t = t0 + 2
    for i, ext in enumerate(exts):
        leg = agent_leg(n, a, ext, queue=True)
        s.create(leg, t)
        if i == answer:
            s.answer(leg, t + 5)
            s.destroy(leg, t + 95, "NORMAL_CLEARING", 95, 90)
            s.destroy(a, t + 95, "NORMAL_CLEARING", t + 95 - t0, t + 94 - t0)
            return Scenario("queue_answered", s.events, Outcome.ANSWERED, a.call_id, CUSTOMER, ext, exts[: i + 1])
        s.destroy(leg, t + 15, "NO_ANSWER", 15)
        t += 16
    s.destroy(a, t + 3, "NORMAL_CLEARING", t + 3 - t0, t + 2 - t0)
    return Scenario("queue_abandoned", s.events, Outcome.ABANDONED, a.call_id, CUSTOMER, None, exts)


def desk_outbound(n: int, style: str, *, answered: bool, number: str = "0912345678", t0: int = T0) -> Scenario:
    """Agent 101 dials a customer from the desk phone: inbound device leg + carrier leg."""
    a = Leg(
        f"o{n}@{REALM}",
        "inbound",
        "101",
        request=f"{number}@{REALM}",
        ccv={"authorizing_type": "device", "username": "user_ag01", "bridge_id": f"o{n}@{REALM}"},
    )
    b = Leg(
        f"o{n}-carrier",
        "outbound",
        DID,
        callee=number,
        request=f"{number}@{HOST}",
        other_leg=a.call_id,
        ccv={"authorizing_type": "resource", "bridge_id": a.call_id},
    )
    s = Script(style).create(a, t0).create(b, t0 + 1)
    if answered:
        s.answer(b, t0 + 8).answer(a, t0 + 8)
        s.destroy(b, t0 + 60, "NORMAL_CLEARING", 59, 52).destroy(a, t0 + 60, "NORMAL_CLEARING", 60, 52)
    else:
        s.destroy(b, t0 + 30, "NO_ANSWER", 29).destroy(a, t0 + 30, "NO_ANSWER", 30)
    outcome = Outcome.OUTBOUND_ANSWERED if answered else Outcome.OUTBOUND_UNANSWERED
    return Scenario("desk_outbound", s.events, outcome, a.call_id, number, "101" if answered else None)


def click_to_call(n: int, style: str, *, answered: bool, number: str = "0912345678", t0: int = T0) -> Scenario:
    """AntBuddy click-to-call: agent 101's phone rings first (outbound leg), then the customer is dialled."""
    d = Leg(
        f"c{n}-device",
        "outbound",
        number,
        callee="101",
        request=f"user_ag01@{REALM}",
        ccv={"authorizing_type": "device", "username": "user_ag01"},
    )
    e = Leg(
        f"c{n}-customer",
        "outbound",
        "101",
        callee=number,
        request=f"{number}@{HOST}",
        other_leg=d.call_id,
        ccv={"authorizing_type": "resource", "bridge_id": d.call_id},
    )
    s = Script(style).create(d, t0).answer(d, t0 + 3).create(e, t0 + 4)
    if answered:
        s.answer(e, t0 + 12).destroy(e, t0 + 80, "NORMAL_CLEARING", 76, 68)
        s.destroy(d, t0 + 80, "NORMAL_CLEARING", 80, 77)
    else:
        s.destroy(e, t0 + 34, "NO_ANSWER", 30).destroy(d, t0 + 34, "NORMAL_CLEARING", 34, 31)
    outcome = Outcome.OUTBOUND_ANSWERED if answered else Outcome.OUTBOUND_UNANSWERED
    return Scenario("click_to_call", s.events, outcome, d.call_id, number, "101" if answered else None)


def internal(n: int, style: str, *, answered: bool, t0: int = T0) -> Scenario:
    """Agent 101 calls agent 102: no decision at all."""
    a = Leg(
        f"i{n}@{REALM}",
        "inbound",
        "101",
        request=f"102@{REALM}",
        ccv={"authorizing_type": "device", "username": "user_ag01", "bridge_id": f"i{n}@{REALM}"},
    )
    b = Leg(
        f"i{n}-102",
        "outbound",
        "101",
        callee="102",
        request=f"user_ag02@{REALM}",
        other_leg=a.call_id,
        ccv={"authorizing_type": "device", "username": "user_ag02", "bridge_id": a.call_id},
    )
    s = Script(style).create(a, t0).create(b, t0 + 1)
    if answered:
        s.answer(b, t0 + 4).destroy(b, t0 + 30, "NORMAL_CLEARING", 29, 26)
        s.destroy(a, t0 + 30, "NORMAL_CLEARING", 30, 26)
    else:
        s.destroy(a, t0 + 10, "ORIGINATOR_CANCEL", 10).destroy(b, t0 + 10, "ORIGINATOR_CANCEL", 9)
    return Scenario("internal", s.events, None, a.call_id)
