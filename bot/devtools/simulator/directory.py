"""The simulated call center's people, phones, queues and numbers (pure data, deterministic ids)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from random import Random


def hex_id(*parts: str) -> str:
    """A stable 32-hex id (Kazoo's document id style) derived from `parts`."""
    return hashlib.md5("/".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Agent:
    name: str  # "Nguyễn Văn An"
    username: str  # "nguyenvanan"
    ext: str  # "101"
    sip_user: str  # "user_an101"
    password: str  # "pw-101": the demo device's SIP password
    status: str  # initial dashboard state: ready / connected / wrapup / paused / logged_out

    @property
    def agent_id(self) -> str:
        return hex_id("agent", self.username)

    @property
    def device_id(self) -> str:
        return hex_id("device", self.sip_user)


@dataclass
class Device:
    """A SIP device; click-to-call works only when it is registered (online) and the password matches."""

    sip_user: str
    password: str
    online: bool = True
    agent: str | None = None  # extension of the agent who owns it (for the legs of a click-to-call)


@dataclass(frozen=True)
class Queue:
    name: str
    description: str
    exts: tuple[str, ...]  # member agents, by extension

    @property
    def queue_id(self) -> str:
        return hex_id("queue", self.name)


AGENT_STATES = ("ready", "connected", "wrapup", "paused", "logged_out")  # the dashboard's agent states

AGENTS: tuple[Agent, ...] = (
    Agent("Nguyễn Văn An", "nguyenvanan", "101", "user_an101", "pw-101", "ready"),
    Agent("Trần Thị Bình", "tranthibinh", "102", "user_binh102", "pw-102", "ready"),
    Agent("Lê Văn Cường", "levancuong", "103", "user_cuong103", "pw-103", "connected"),
    Agent("Phạm Thị Dung", "phamthidung", "104", "user_dung104", "pw-104", "wrapup"),
    Agent("Hoàng Minh Đức", "hoangminhduc", "105", "user_duc105", "pw-105", "paused"),
    Agent("Võ Thị Hoa", "vothihoa", "106", "user_hoa106", "pw-106", "logged_out"),
)

QUEUES: tuple[Queue, ...] = (
    Queue("CSKH", "Chăm sóc khách hàng", ("101", "102", "103")),
    Queue("Kinh doanh", "Kinh doanh", ("104", "105")),
    Queue("Kỹ thuật", "Hỗ trợ kỹ thuật", ("103", "106")),
)

DIDS: tuple[str, ...] = ("02873019555", "02873019556", "19006868")
CALLER_POOL: tuple[str, ...] = ("0987654321", "0912345678", "0909123456", "0356789012", "0388111222", "0707333444")

# Vietnamese mobile prefixes in service (Viettel, Vinaphone, Mobifone, Vietnamobile, Gmobile, Itel): random
# callers use only these, so Call back's dial policy (bot/callback/policy.py) accepts them as it would real ones.
MOBILE_PREFIXES = (
    "032", "033", "034", "035", "036", "037", "038", "039", "070", "076", "077", "078", "079", "081", "082",
    "083", "084", "085", "086", "088", "090", "091", "093", "094", "096", "097", "098", "099", "056", "058",
)  # fmt: skip


def random_mobile(rng: Random) -> str:
    """A Vietnamese mobile number that exists (10 digits, national form)."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}"


CARRIER_HOST = "203.0.113.10"  # the SIP carrier that delivers DIDs (documentation address range)
MEDIA_SERVER = "fs01.demo.antbuddy.local"


@dataclass
class Directory:
    """Who is in the simulated account; scenarios look agents and queues up here."""

    account_id: str
    domain: str
    agents: tuple[Agent, ...] = AGENTS
    queues: tuple[Queue, ...] = QUEUES
    dids: tuple[str, ...] = DIDS
    caller_pool: tuple[str, ...] = CALLER_POOL
    org: str = field(default="")

    def __post_init__(self) -> None:
        if not self.org:
            self.org = "org_" + hex_id("org", self.account_id)[:24]

    def agent(self, key: str) -> Agent:
        """An agent by extension, SIP user, username or agent id; KeyError otherwise."""
        for a in self.agents:
            if key in (a.ext, a.sip_user, a.username, a.agent_id):
                return a
        raise KeyError(f"unknown agent {key!r}")

    def queue(self, key: str) -> Queue:
        """A queue by id or name (case-insensitive); KeyError otherwise."""
        for q in self.queues:
            if key == q.queue_id or key.casefold() == q.name.casefold():
                return q
        raise KeyError(f"unknown queue {key!r}")

    def queue_agents(self, q: Queue) -> list[Agent]:
        return [self.agent(e) for e in q.exts]
