"""Alert routes from a file (YAML or JSON): which channel gets a queue's, a DID's, or every other alert.

    default: C0ALERTS
    queues:
      CSKH: C0CSKH            # a queue name (resolved through `queue_ids`) or a queue id
      queue_support_01: C0SUPPORT
    dids:
      "02873019555": C0HOTLINE

Stored in the routes table as `queue:<id>`, `did:<number key>` and `default` (storage/store.py).

A `settings:` section (#13) gives a route its escalation, hours, holidays, urgent override and short hang-up
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
from pathlib import Path
from typing import TYPE_CHECKING

from bot.alerts.route_settings import SettingsError, settings_from
from bot.calls.numbers import clean, number_key
from storage import OwnershipStore

if TYPE_CHECKING:
    from storage import Store

log = logging.getLogger(__name__)

CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
SECTIONS = ("default", "queues", "dids", "settings")


class RoutesFileError(ValueError):
    """The routes file cannot be used; the message names the file and the entry."""


def _channel(path: Path, where: str, value: object) -> str:
    if not isinstance(value, str) or not CHANNEL_RE.match(value.strip()):
        raise RoutesFileError(f"{path}: {where} must be a channel id like C0123ABCD, got {value!r}")
    return value.strip()


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
    by_name = {str(k).casefold(): str(v) for k, v in (queue_ids or {}).items()}
    for section, prefix in (("queues", "queue"), ("dids", "did")):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise RoutesFileError(f"{path}: {section} must be a mapping of {prefix} -> channel id")
        for name, channel in entries.items():
            name = str(name).strip()
            if not name:
                raise RoutesFileError(f"{path}: {section} has an empty key")
            if prefix == "queue":
                key = f"queue:{by_name.get(name.casefold(), name)}"
            else:
                did = number_key(name)
                if not clean(name).lstrip("+").isdigit():
                    raise RoutesFileError(f"{path}: dids: {name!r} is not a number")
                key = f"did:{did}"
            routes[key] = _channel(path, f"{section}.{name}", channel)
    return routes


def parse_route_settings(
    data: object, path: Path, queue_ids: Mapping[str, str] | None = None
) -> dict[str, dict[str, object]]:
    """Route keys -> validated settings JSON from the file's `settings:` section (#13); {} when there is none."""
    section = data.get("settings") if isinstance(data, dict) else None
    if not section:
        return {}
    if not isinstance(section, dict):
        raise RoutesFileError(f"{path}: settings must be a mapping of route (default, queue, DID) -> settings")
    by_name = {str(k).casefold(): str(v) for k, v in (queue_ids or {}).items()}
    out: dict[str, dict[str, object]] = {}
    for name, values in section.items():
        name = str(name).strip()
        if name == "default":
            key = "default"
        elif clean(name).lstrip("+").isdigit():
            key = f"did:{number_key(name)}"
        else:
            key = f"queue:{by_name.get(name.casefold(), name)}"
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
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutesFileError(f"{p}: cannot read it ({exc.strerror or exc})") from None
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml  # YAML is a superset of JSON: any other name is read as YAML

            data = yaml.safe_load(text)
    except (ValueError, ImportError) as exc:
        raise RoutesFileError(f"{p}: not valid JSON: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and friends
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RoutesFileError(f"{p}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    return parse_routes(data, p, queue_ids)


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
    routes = read_routes_file(path, queue_ids)
    settings = parse_route_settings(_read(Path(path)), Path(path), queue_ids)  # #13
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
