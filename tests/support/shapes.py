"""The corpus of call shapes (tests/calls/shapes/*.json) as stream payloads, in either key style.

A shape file is data: the legs of one Kazoo call (or of a few calls that happen at once), the events the
switch emits for them in emission order, and what the call model must decide. Each names the Kazoo or
FreeSWITCH source the behaviour comes from (`source`) and the fact it reproduces (`kazoo`). Format:

    legs:    {name: {id, direction, caller, callee?, request?, other_leg?, ccv: {snake keys}}}
    events:  [[CREATE|ANSWER|BRIDGE|DESTROY, leg name, seconds after T0, {overrides}?], ...]
             overrides: cause, duration, billing, disposition, other_leg (a leg name or an id), direction,
             caller, callee, request, ccv (merged; null removes a key), fax_info, conference_name
    expected: [{call: leg name, outcome | null, customer?, answered_by?, agents_rung?, queue_id?}, ...]
    losable: indexes of events that may be lost without changing any outcome (CREATEs always may)
    own_calls: [{number, device}]: click-to-call we started before the first event
    never_ends: true when a call must stay open (its DESTROY never comes) until history settles it
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.payloads import ACCOUNT, REALM, T0, Payload

SHAPES_DIR = Path(__file__).resolve().parents[1] / "calls" / "shapes"
STYLES = ("kazoo", "snake")
_NAMES = {
    "CREATE": "CHANNEL_CREATE",
    "ANSWER": "CHANNEL_ANSWER",
    "BRIDGE": "CHANNEL_BRIDGE",
    "DESTROY": "CHANNEL_DESTROY",
}
_KAZOO_CCV = {
    "account_id": "Account-ID",
    "bridge_id": "Bridge-ID",
    "member_call_id": "Member-Call-ID",
    "queue_id": "Queue-ID",
    "agent_id": "Agent-ID",
    "authorizing_type": "Authorizing-Type",
    "username": "Username",
    "conference_id": "Conference-ID",
}


@dataclass(frozen=True)
class Shape:
    name: str
    data: dict[str, Any]

    @property
    def legs(self) -> dict[str, dict[str, Any]]:
        return self.data["legs"]

    @property
    def expected(self) -> list[dict[str, Any]]:
        return self.data["expected"]

    @property
    def losable(self) -> set[int]:
        losable = set(self.data.get("losable", []))
        return losable | {i for i, ev in enumerate(self.data["events"]) if ev[0] == "CREATE"}

    def leg_id(self, ref: str) -> str:
        """A leg name's call id (a string that is no leg name is an id already)."""
        leg = self.legs.get(ref)
        return str(leg["id"]) if leg else ref

    def events(self, style: str) -> list[Payload]:
        """Every event of the shape, in emission order, as the stream would deliver it in `style`."""
        return [_payload(self, style, ev) for ev in self.data["events"]]

    def variant(self, tag: str, numbers: dict[str, str] | None = None) -> Shape:
        """The same shape as a new call: every leg id prefixed with `tag`, and each number in `numbers` (a caller,
        a callee, the user part of a request) replaced, so several shapes can be played into one running bot
        without their legs merging or their customers' alerts folding together (tests/wire/test_call_shapes_e2e.py)."""
        renames = {str(leg["id"]): f"{tag}-{leg['id']}" for leg in self.legs.values()} | (numbers or {})

        def swap(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: swap(v) for k, v in value.items()}
            if isinstance(value, list):
                return [swap(v) for v in value]
            if isinstance(value, str):
                if value in renames:
                    return renames[value]
                user, at, host = value.partition("@")
                if at and user in renames:
                    return f"{renames[user]}@{host}"
            return value

        return Shape(f"{self.name}-{tag}", swap(self.data))


def load_shapes() -> list[Shape]:
    return [Shape(path.stem, json.loads(path.read_text())) for path in sorted(SHAPES_DIR.glob("*.json"))]


def _payload(shape: Shape, style: str, ev: list[Any]) -> Payload:
    kind, leg_name, at = ev[0], ev[1], int(ev[2])
    over: dict[str, Any] = ev[3] if len(ev) > 3 else {}
    leg = dict(shape.legs[leg_name])
    for key in ("direction", "caller", "callee", "request"):
        if key in over:
            leg[key] = over[key]
    other = over.get("other_leg", leg.get("other_leg"))
    ccv = {"account_id": ACCOUNT, **leg.get("ccv", {})}
    for key, value in (over.get("ccv") or {}).items():
        if value is None:
            ccv.pop(key, None)
        else:
            ccv[key] = value
    name = _NAMES[kind]
    t = T0 + at
    if style == "kazoo":
        body: dict[str, Any] = {
            "Event-Category": "call_event",
            "Event-Name": name,
            "Call-ID": leg["id"],
            "Caller-ID-Number": leg["caller"],
            "Caller-ID-Name": leg["caller"],
            "Timestamp": t,
        }
        if leg.get("direction"):
            body["Call-Direction"] = leg["direction"]
        if leg.get("callee"):
            body["Callee-ID-Number"] = leg["callee"]
        if leg.get("request"):
            body["Request"] = body["To"] = leg["request"]
        if other:
            body["Other-Leg-Call-ID"] = shape.leg_id(other)
        body["Custom-Channel-Vars"] = {_KAZOO_CCV.get(k, k): v for k, v in ccv.items()} | {"Realm": REALM}
        if kind == "DESTROY":
            body["Hangup-Cause"] = over.get("cause", "NORMAL_CLEARING")
            body["Duration-Seconds"] = str(over.get("duration", 0))
            body["Billing-Seconds"] = str(over.get("billing", 0))
            if "disposition" in over:
                body["Disposition"] = over["disposition"]
        if "fax_info" in over:
            body["Fax-Info"] = over["fax_info"]
        if "conference_name" in over:
            body["Conference-Name"] = over["conference_name"]
        return name, body
    body = {"call_id": leg["id"], "caller_id_number": leg["caller"], "Timestamp": t}
    if leg.get("direction"):
        body["direction"] = leg["direction"]
    destination = leg.get("callee") or (leg["request"].split("@")[0] if leg.get("request") else None)
    if destination:
        body["destination_number"] = destination
    if other:
        body["other_leg_call_id"] = shape.leg_id(other)
    body["custom_channel_vars"] = ccv
    if kind == "DESTROY":
        body["hangup_cause"] = over.get("cause", "NORMAL_CLEARING")
        body["duration"] = over.get("duration", 0)
        body["billing_seconds"] = over.get("billing", 0)
        if "disposition" in over:
            body["disposition"] = over["disposition"]
    if "fax_info" in over:
        body["fax_info"] = over["fax_info"]
    if "conference_name" in over:
        body["conference_name"] = over["conference_name"]
    return name, body


def of_account(payload: Any, account_id: str) -> Any:
    """The corpus's payloads name the corpus's account (tests/support/payloads.py): make them `account_id`'s (the
    simulator's), since the bot drops events of other accounts."""
    return json.loads(json.dumps(payload).replace(ACCOUNT, account_id))
