"""Route targets and the routes file: which channel gets a queue's, a DID's, or every other alert.

One resolver, `route_target`, says what a typed target names wherever one is named (`/ring route`, its settings,
the routes file): `default`, a DID (digits, with spaces, dots, dashes or brackets), or a queue by id or name in
any case. Stored in the routes table as `queue:<id>`, `did:<number key>` and `default` (storage/store.py).

The routes file (YAML or JSON):

    default: C0ALERTS
    queues:
      CSKH: C0CSKH            # a queue name (resolved through `queue_ids`) or a queue id
      queue_support_01: C0SUPPORT
    dids:
      "02873019555": C0HOTLINE

A `settings:` section gives a route its escalation, hours, holidays, urgent override and short hang-up
threshold, keyed the same way (`default`, a queue name or id, a DID); see bot/alerts/route_settings.py:

    settings:
      default: {escalate_after: 15, hours: {mon-fri: "08:00-17:30"}, holidays: ["2026-01-01"]}
      CSKH: {escalate_after: 10, escalate_to: [S0CSKHLEADS], second_after: 15, supervisors: [U0BOSS],
             min_ring_seconds: 5}
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from bot.alerts.route_settings import SettingsError, settings_from
from bot.calls.numbers import clean, format_number, number_key
from bot.slack.blocks import escape
from bot.slack.text import say
from bot.values import is_digits
from storage import OwnershipStore

if TYPE_CHECKING:
    from storage import Store

log = logging.getLogger(__name__)

CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
SECTIONS = ("default", "queues", "dids", "settings")
_NUMBER_PART = re.compile(r"^\+?[0-9().\-]+$")  # ASCII digits: bot/values.py says why
QUOTES = "\"'“”"


class TargetKind(StrEnum):
    DEFAULT = "default"
    DID = "did"
    QUEUE = "queue"


@dataclass(frozen=True)
class RouteTarget:
    """What a typed target names: its routes key, and what to call it in an answer."""

    kind: TargetKind
    key: str  # routes key: default | did:<number key> | queue:<id> (or queue:<name> when no list was at hand)
    shown: str  # the number formatted, or the queue's name; plain text (escaped by `words`)

    def words(self) -> str:
        """The target in an answer: "the default route", "calls to 028 7301 9555", "queue CSKH"."""
        if self.kind is TargetKind.DEFAULT:
            return say("commands.route_target.default")
        if self.kind is TargetKind.DID:
            return say("commands.route_target.did", number=escape(self.shown))
        return say("commands.route_target.queue", name=escape(self.shown, limit=80))


class TargetError(ValueError):
    """A typed target that names nothing we can route by; `words()` says why, in the reader's language."""

    def __init__(self, typed: str, reason: str) -> None:
        super().__init__(f"{typed!r}: {reason}")
        self.typed = typed
        self.reason = reason

    def words(self) -> str:
        raise NotImplementedError


class NotANumber(TargetError):
    """DID-shaped (digits and separators) but not a number we route by (3 to 20 digits)."""

    def __init__(self, typed: str) -> None:
        super().__init__(typed, "not a number (3 to 20 digits)")

    def words(self) -> str:
        return say("commands.route_bad_did", target=escape(self.typed, code=True, limit=60))


class UnknownQueue(TargetError):
    """No queue has this id or name; `names` are the queues there are (to show them)."""

    def __init__(self, typed: str, names: list[str]) -> None:
        super().__init__(typed, "no queue has this name or id")
        self.names = names

    def words(self) -> str:
        names = ", ".join(f"`{escape(n, code=True, limit=80)}`" for n in self.names if n)
        return say(
            "commands.route_no_queue",
            target=escape(self.typed, code=True, limit=60),
            names=names or say("commands.route_no_queue_names"),
        )


def _is_number_part(token: str) -> bool:
    return bool(_NUMBER_PART.match(token)) and any(c in "0123456789" for c in token)


def did_target(typed: str) -> RouteTarget:
    """A DID as typed (`028 7301 9555`, `+842873019555`) -> its target. Raises NotANumber."""
    digits = clean(typed).lstrip("+")
    if not is_digits(digits) or not 3 <= len(digits) <= 20:
        raise NotANumber(typed)
    key = number_key(typed)
    return RouteTarget(TargetKind.DID, f"did:{key}", format_number(key))


def queue_target(typed: str, queues: Mapping[str, str] | None) -> RouteTarget:
    """A queue by id or name, any case. `queues` is AntBuddy's list (id -> name); None when it could not be had
    (the routes file at start-up with AntBuddy down): then the name is kept as typed, which alerts also match
    (Store.route_for looks routes up by a queue's name too). Raises UnknownQueue."""
    wanted = typed.casefold()
    if queues is None:
        return RouteTarget(TargetKind.QUEUE, f"queue:{typed}", typed)
    for queue_id, name in queues.items():
        if queue_id and (queue_id.casefold() == wanted or (name or "").casefold() == wanted):
            return RouteTarget(TargetKind.QUEUE, f"queue:{queue_id}", name or queue_id)
    raise UnknownQueue(typed, sorted(n for n in queues.values() if n))


def route_target(typed: str, queues: Mapping[str, str] | None) -> RouteTarget:
    """The one reading of a typed route target: `default`, a DID (every word digits and separators), else a
    queue (see `queue_target`). Quotes around it are dropped (`"Kinh doanh"`). Raises TargetError."""
    text = typed.strip().strip(QUOTES).strip()
    if text.casefold() == "default":
        return RouteTarget(TargetKind.DEFAULT, "default", "default")
    if text and all(_is_number_part(t) for t in text.split()):
        return did_target(text)
    return queue_target(text, queues)


class RoutesFileError(ValueError):
    """The routes file cannot be used; the message names the file and the entry."""


def _channel(path: Path, where: str, value: object) -> str:
    if not isinstance(value, str) or not CHANNEL_RE.match(value.strip()):
        raise RoutesFileError(f"{path}: {where} must be a channel id like C0123ABCD, got {value!r}")
    return value.strip()


def _by_id(queue_ids: Mapping[str, str] | None) -> dict[str, str] | None:
    """The file's `queue_ids` (queue name -> id) as the resolver takes queues (id -> name)."""
    return None if queue_ids is None else {str(qid): str(name) for name, qid in queue_ids.items()}


def _file_target(path: Path, section: str, name: str, queues: Mapping[str, str] | None) -> RouteTarget:
    """A target named in the file, read by the one resolver. A queue name AntBuddy does not list is kept as
    written (alerts also find routes by their queue's name), so a file still loads while AntBuddy is down."""
    try:
        if section == "dids":
            return did_target(name)
        if section == "queues":
            return queue_target(name, queues)
        return route_target(name, queues)
    except UnknownQueue:
        return queue_target(name, None)
    except NotANumber:
        raise RoutesFileError(f"{path}: {section}: {name!r} is not a number") from None


def parse_routes(data: object, path: Path, queue_ids: Mapping[str, str] | None = None) -> dict[str, str]:
    """Route keys -> channel ids from the file's parsed content (validated, nothing stored)."""
    if not isinstance(data, dict):
        raise RoutesFileError(f"{path}: expected a mapping with {', '.join(SECTIONS)}, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(SECTIONS))
    if unknown:
        raise RoutesFileError(f"{path}: unknown section(s) {', '.join(unknown)}; use {', '.join(SECTIONS)}")
    routes: dict[str, str] = {}
    if data.get("default") is not None:
        routes["default"] = _channel(path, "default", data["default"])
    queues = _by_id(queue_ids)
    for section, prefix in (("queues", "queue"), ("dids", "did")):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise RoutesFileError(f"{path}: {section} must be a mapping of {prefix} -> channel id")
        for name, channel in entries.items():
            name = str(name).strip()
            if not name:
                raise RoutesFileError(f"{path}: {section} has an empty key")
            routes[_file_target(path, section, name, queues).key] = _channel(path, f"{section}.{name}", channel)
    return routes


def settings_of_routes_file(
    data: object, path: Path, queue_ids: Mapping[str, str] | None = None
) -> dict[str, dict[str, object]]:
    """Route keys -> validated settings JSON from the file's `settings:` section; {} when there is none."""
    section = data.get("settings") if isinstance(data, dict) else None
    if not section:
        return {}
    if not isinstance(section, dict):
        raise RoutesFileError(f"{path}: settings must be a mapping of route (default, queue, DID) -> settings")
    queues = _by_id(queue_ids)
    out: dict[str, dict[str, object]] = {}
    for name, values in section.items():
        name = str(name).strip()
        if not name:
            raise RoutesFileError(f"{path}: settings has an empty key")
        key = _file_target(path, "settings", name, queues).key
        if not isinstance(values, dict):
            raise RoutesFileError(f"{path}: settings.{name} must be a mapping")
        try:
            out[key] = settings_from(values).to_json()
        except SettingsError as exc:
            raise RoutesFileError(f"{path}: settings.{name}: {exc}") from None
    return out


def _read(p: Path) -> object:
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutesFileError(f"{p}: cannot read it ({exc.strerror or exc})") from None
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        import yaml  # YAML is a superset of JSON: any other name is read as YAML

        return yaml.safe_load(text)
    except (ValueError, ImportError) as exc:
        raise RoutesFileError(f"{p}: not valid JSON: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and friends
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RoutesFileError(f"{p}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None


def read_routes_file(path: str | Path, queue_ids: Mapping[str, str] | None = None) -> dict[str, str]:
    p = Path(path)
    return parse_routes(_read(p), p, queue_ids)


def load_routes_file(
    store: Store,
    path: str | Path,
    *,
    queue_ids: Mapping[str, str] | None = None,
    replace: bool = False,
    by: str | None = "routes-file",
) -> int:
    """Store the file's routes (all or nothing), returning how many; `replace` also drops routes the file does not name.

    `queue_ids` maps queue names to ids so the file may say `CSKH` instead of the id."""
    p = Path(path)
    data = _read(p)
    routes = parse_routes(data, p, queue_ids)
    settings = settings_of_routes_file(data, p, queue_ids)
    owners = OwnershipStore(store)
    with store.transaction():
        if replace:
            for row in store.routes():
                if row["key"] not in routes:
                    store.delete_route(row["key"])
        for key, channel in routes.items():
            store.set_route(key, channel, by=by)
        for key, values in settings.items():
            owners.set_route_settings(key, values, by=by)
    log.info("routes loaded path=%s count=%s replace=%s", path, len(routes), replace)
    return len(routes)
