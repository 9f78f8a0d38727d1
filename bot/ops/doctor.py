"""`ringbot doctor`: one line per check against the real services, with the fix in words; exit 1 on any failure."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.routes import RoutesFileError, read_routes_file
from bot.antbuddy import AntBuddyClient, AuthError
from bot.callback.links import KeyCensus, key_census
from bot.callback.vault import Vault
from bot.config import Settings
from bot.ops.scopes import REQUIRED_SCOPES
from bot.queues.daily_digest import chart_mode
from bot.stream.client import StreamAuthError, StreamClient
from bot.stream.probe import probe
from storage import Store
from storage.store import GIVEN_UP

T = TypeVar("T")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False  # not run: `detail` says why (another check failed); neither ok nor a failure

    def line(self) -> str:
        mark = "skip" if self.skipped else ("ok  " if self.ok else "FAIL")
        tail = f" — fix: {self.fix}" if (self.fix and not self.ok and not self.skipped) else ""
        detail = " ".join(self.detail.split())  # one check, one line, whatever an error message holds
        return f"[{mark}] {self.name}: {detail}{tail}"


def _skip(name: str, reason: str) -> Check:
    return Check(name, False, f"skipped: {reason}", skipped=True)


async def _timed(step: Awaitable[T], seconds: float = 10.0) -> T:
    return await asyncio.wait_for(step, seconds)


async def check_antbuddy(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    skip_reason = "the app credentials were not accepted"
    async with AntBuddyClient.from_settings(settings, retries=0) as ab:
        try:
            token = await _timed(ab.auth_token())
            left = int((token.expires_at - datetime.now(UTC)).total_seconds())
            checks.append(Check("AntBuddy token", True, f"auth_token issued, expires in {left} s"))
        except AuthError:
            checks.append(
                Check(
                    "AntBuddy token",
                    False,
                    "AntBuddy refused the app credentials",
                    "check ANTBUDDY_APP_ID and ANTBUDDY_APP_SECRET (AntBuddy portal → 3rd-party apps)",
                )
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line of the report
            skip_reason = "AntBuddy unreachable"
            checks.append(
                Check(
                    "AntBuddy token",
                    False,
                    f"no answer from {settings.antbuddy_api_url}: {exc or type(exc).__name__}",
                    "check ANTBUDDY_API_URL and that this machine can reach it",
                )
            )
        if not checks[-1].ok:
            # Everything else AntBuddy answers needs the token: one clear failure and the true reason, not three.
            checks += [_skip(name, skip_reason) for name in ("AntBuddy history", "AntBuddy dashboard")]
            return checks
        now = datetime.now(UTC)
        try:
            await _timed(ab.history_page(now - timedelta(hours=1), now, page=1, limit=1))
            checks.append(
                Check(
                    "AntBuddy history",
                    True,
                    f"date format '{settings.history_date_format}' and hash '{ab.history_hash_in_use}' accepted",
                )
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line of the report
            checks.append(
                Check(
                    "AntBuddy history",
                    False,
                    f"history request refused: {exc}",
                    "try ANTBUDDY_HISTORY_DATE_FORMAT=unix|unix_ms|date and ANTBUDDY_HISTORY_HASH=short",
                )
            )
        if settings.antbuddy_domain and settings.antbuddy_email:
            try:
                dash = await _timed(ab.dashboard())
                checks.append(
                    Check("AntBuddy dashboard", True, f"{len(dash.agents)} agents, {len(dash.queues)} queue summaries")
                )
            except Exception as exc:  # noqa: BLE001 - every failure becomes one line of the report
                checks.append(
                    Check(
                        "AntBuddy dashboard",
                        False,
                        str(exc),
                        "check ANTBUDDY_DOMAIN and ANTBUDDY_EMAIL (an email of your AntBuddy company)",
                    )
                )
        else:
            checks.append(
                Check(
                    "AntBuddy dashboard",
                    False,
                    "ANTBUDDY_DOMAIN / ANTBUDDY_EMAIL not set",
                    "set both so /ring agents, /ring queues and App Home work",
                )
            )
    return checks


SUBSCRIBE_WAIT = 2.0  # seconds after the subscribes in which AntBuddy's refusal would arrive


async def check_subscribe(settings: Settings, *, wait: float = SUBSCRIBE_WAIT) -> Check:
    """Connect and subscribe for real: a wrong ANTBUDDY_ACCOUNT_ID only shows as a refused subscription."""
    async with AntBuddyClient.from_settings(settings, retries=0) as ab:
        client = StreamClient(
            url=settings.antbuddy_ws_url,
            account_id=settings.antbuddy_account_id,
            protocol=settings.ws_protocol,
            get_token=ab.auth_token,
            on_event=lambda _n, _p: None,
            backoff_initial=0.2,
            backoff_max=0.5,
            connect_timeout=8.0,
        )
        task = asyncio.create_task(client.run())
        try:
            connected = await client.wait_connected(15.0)
            if connected:
                await asyncio.wait({task}, timeout=wait)  # an auth_failure comes right after the subscribes
            if task.done() and isinstance(task.exception(), StreamAuthError):
                return Check(
                    "event subscription",
                    False,
                    "AntBuddy refused the subscription",
                    f"check ANTBUDDY_ACCOUNT_ID ({settings.antbuddy_account_id}) belongs to this app",
                )
            if not connected:
                return Check(
                    "event subscription",
                    False,
                    f"could not connect: {client.stats.last_error}",
                    "see the event stream line above",
                )
            return Check(
                "event subscription",
                True,
                f"subscribed to {len(client.bindings)} bindings as account {settings.antbuddy_account_id}",
            )
        finally:
            await client.stop()
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def check_stream(settings: Settings) -> Check:
    try:
        result = await _timed(probe(settings.antbuddy_ws_url, timeout=8.0), 20.0)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line of the report
        return Check("event stream", False, f"probe failed: {exc}", "check ANTBUDDY_WS_URL and firewall rules")
    if result.protocol is None:
        return Check("event stream", False, result.detail, "check ANTBUDDY_WS_URL")
    wanted = settings.ws_protocol
    if wanted not in ("auto", result.protocol):
        return Check(
            "event stream",
            False,
            f"server speaks {result.protocol}, ANTBUDDY_WS_PROTOCOL={wanted}",
            f"set ANTBUDDY_WS_PROTOCOL=auto or {result.protocol}",
        )
    return Check("event stream", True, f"{result.protocol} handshake ok ({result.detail})")


async def check_slack(settings: Settings) -> list[Check]:
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10)
    try:
        resp = await _timed(client.auth_test())
    except SlackApiError as exc:
        return [
            Check(
                "Slack auth.test",
                False,
                f"Slack said {exc.response.get('error')}",
                "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page",
            )
        ]
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line of the report
        return [Check("Slack auth.test", False, f"no answer: {exc}", "check SLACK_API_URL and network access")]
    checks = [Check("Slack auth.test", True, f"bot {resp.get('user')} in team {resp.get('team')}")]
    granted = {s.strip() for s in (resp.headers.get("x-oauth-scopes") or "").split(",") if s.strip()}
    missing = sorted(REQUIRED_SCOPES - granted)
    if missing:
        checks.append(
            Check(
                "Slack scopes",
                False,
                f"missing {', '.join(missing)}",
                "add them (app_manifest.yml lists all), reinstall the app, update SLACK_BOT_TOKEN",
            )
        )
    else:
        checks.append(Check("Slack scopes", True, f"all {len(REQUIRED_SCOPES)} needed scopes granted"))
    checks.append(check_digest_chart(settings, granted))
    if settings.socket_mode:
        checks.append(Check("Slack mode", True, "Socket Mode (SLACK_APP_TOKEN set)"))
    elif settings.slack_signing_secret:
        checks.append(Check("Slack mode", True, f"HTTP mode on port {settings.http_port}, POST /slack/events"))
    else:
        checks.append(
            Check(
                "Slack mode",
                False,
                "neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set",
                "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)",
            )
        )
    return checks


def check_digest_chart(settings: Settings, granted: set[str]) -> Check:
    """Whether the daily digest will upload its chart image or draw text bars, and why. Never a failure:
    the bars say the same thing."""
    if not settings.digest_at:
        return Check("digest chart", True, "the daily digest is off (RINGBOT_DIGEST_AT=off)")
    mode = chart_mode(granted)
    if mode.mode == "image":
        return Check(
            "digest chart", True, f"daily digest at {settings.digest_at} uploads a chart image ({mode.reason})"
        )
    return Check("digest chart", True, f"daily digest at {settings.digest_at} draws text bars: {mode.reason}")


def _looks_like_ringbot(doc: object) -> bool:
    return isinstance(doc, dict) and "outbox_depth" in doc and "stream" in doc


async def check_http_port(settings: Settings) -> Check:
    """The port `ringbot run` will listen on is free, or already held by a ringbot (its /healthz answers)."""
    port = settings.http_port
    if port == 0:
        return Check("HTTP port", True, "RINGBOT_HTTP_PORT=0: any free port is taken at start")
    host = settings.http_host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe_sock:
        probe_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does: TIME_WAIT is free
        try:
            probe_sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return Check(
                    "HTTP port",
                    False,
                    f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                    "set RINGBOT_HTTP_HOST / RINGBOT_HTTP_PORT to an address of this machine",
                )
        else:
            return Check("HTTP port", True, f"{host}:{port} is free")
    local = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    try:
        timeout = aiohttp.ClientTimeout(total=3)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.get(f"http://{local}:{port}/healthz") as resp:
                doc: object = await resp.json(content_type=None)
    except Exception:  # noqa: BLE001 - anything but a ringbot's /healthz means another program holds the port
        doc = None
    if _looks_like_ringbot(doc):
        return Check("HTTP port", True, f"{port} is held by a running ringbot (its /healthz answers)")
    return Check(
        "HTTP port",
        False,
        f"port {port} is in use by another program",
        "stop that program or set RINGBOT_HTTP_PORT to a free port",
    )


def check_database(settings: Settings) -> tuple[Check, list[str]]:
    """The database can be opened and written by `ringbot run`, without creating or writing anything now.
    Returns the check and the channels of the routes stored in it (none when it does not exist yet)."""
    path = Path(settings.db_path)
    fix = "point RINGBOT_DB at a writable path"
    folder = path.parent
    if path.is_dir():
        return Check("database", False, f"{path} is a directory", "point RINGBOT_DB at a file inside it"), []
    if not folder.is_dir():
        if folder.exists():
            return Check("database", False, f"{folder} is not a directory", fix), []
        return Check("database", False, f"directory {folder} does not exist", f"mkdir -p {folder}, or {fix}"), []
    if not os.access(folder, os.W_OK | os.X_OK):
        # SQLite writes its journal beside the file: the directory must be writable too.
        return Check("database", False, f"directory {folder} is not writable by this user", fix), []
    if not path.exists():
        return Check("database", True, f"{path} does not exist yet; `ringbot run` creates it in {folder}"), []
    if not os.access(path, os.R_OK | os.W_OK):
        return Check("database", False, f"{path} is not readable and writable by this user", fix), []
    try:
        # Read-only: doctor changes nothing (no schema, no migration, no probe row).
        store = Store.open_read_only(path)
        try:
            mode = store.journal_mode()
            try:
                channels = [r["channel"] for r in store.routes()]
            except sqlite3.OperationalError:
                channels = []  # a database from before routes existed: `ringbot run` adds the table
        finally:
            store.close()
    except sqlite3.Error as exc:
        return Check("database", False, f"{path} cannot be read as a database: {exc}", fix), []
    return Check("database", True, f"{path} readable and writable (journal {mode})"), channels


def check_given_up(settings: Settings) -> list[Check]:
    """One failed line per channel (or person) whose Slack messages were given up after a day of refusals;
    nothing when there are none (or no database yet)."""
    path = Path(settings.db_path)
    if not path.is_file():
        return []
    try:
        store = Store.open_read_only(path)
        try:
            given_up = store.given_up_outbox()
        finally:
            store.close()
    except sqlite3.Error:
        return []  # the database check says what is wrong with the file
    return [
        Check(
            f"messages to {g['channel']}",
            False,
            f"{g['rows']} Slack message(s) given up: {g['error'].removeprefix(GIVEN_UP)}",
            f"fix what it names, then: ringbot requeue --channel {g['channel']}"
            if g["channel"][:1] in ("C", "G", "D")
            else "fix what it names, then: ringbot requeue",
        )
        for g in given_up
    ]


def alert_channels(settings: Settings, stored: list[str]) -> tuple[dict[str, str], list[Check]]:
    """Every channel an alert can go to -> where it is configured; a routes file that cannot be read is a check."""
    where: dict[str, str] = {settings.alert_channel: "RINGBOT_ALERT_CHANNEL"}
    for channel in stored:
        where.setdefault(channel, "a route in the database")
    checks: list[Check] = []
    if settings.routes_file:
        try:
            for channel in read_routes_file(settings.routes_file).values():
                where.setdefault(channel, "RINGBOT_ROUTES_FILE")
        except RoutesFileError as exc:
            checks.append(Check("routes file", False, str(exc), "fix the entry named (docs/alerts.md)"))
    return where, checks


async def check_channel(client: AsyncWebClient, channel: str, source: str) -> Check:
    """The bot can post to `channel` and read its history back: crash recovery looks there before it reposts.

    Asked with `conversations.history` (limit 1), the very call recovery makes, under the history scopes the
    manifest already grants; `conversations.info` would need channels:read and groups:read on top."""
    name = f"channel {channel}"
    if channel[:1] not in ("C", "G", "D"):
        return Check(name, False, f"{source} is a name, not a channel id", "use the id from the channel's details")
    try:
        await _timed(client.conversations_history(channel=channel, limit=1))
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "not_in_channel":
            return Check(
                name,
                False,
                f"the bot can post but has not joined, so it cannot read the history back after a crash ({source})",
                "join it: /invite @ringbot in that channel",
            )
        if error == "channel_not_found":
            return Check(
                name,
                False,
                f"Slack does not show it to the bot ({source})",
                "check the id; for a private channel, invite the bot (/invite @ringbot)",
            )
        return Check(name, False, f"Slack said {error} ({source})", "see docs/setup.md (Slack app)")
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line of the report
        return Check(name, False, f"no answer from Slack: {exc or type(exc).__name__}", "check network access")
    return Check(name, True, f"the bot can post and read its history back ({source})")


async def check_channels(settings: Settings, channels: dict[str, str]) -> list[Check]:
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10)
    return [await check_channel(client, channel, source) for channel, source in channels.items()]


def check_secret_key(settings: Settings) -> Check:
    """The key works, and which key opens the SIP passwords already stored: some may still need the old key
    (`ringbot rotate-key`), none may (RINGBOT_SECRET_KEY_OLD can go), or no key opens some (their owners relink)."""
    if not settings.secret_key:
        return Check(
            "secret key",
            False,
            "RINGBOT_SECRET_KEY not set: /ring link is refused",
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
        )
    try:
        vault = Vault(settings.secret_key, settings.secret_key_old)
        vault.encrypt("probe")
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line of the report
        return Check("secret key", False, str(exc), "generate a Fernet key (see docs/setup.md)")
    census = stored_passwords(settings, vault)
    rotation = "docs/operations.md, Rotating the secret key"
    if census is None or census.total == 0:
        if vault.has_old_key:
            return Check(
                "secret key",
                True,
                "no SIP password is stored: RINGBOT_SECRET_KEY_OLD is not needed, you can remove it",
            )
        return Check("secret key", True, "SIP passwords will be encrypted at rest")
    if census.neither:
        whose = ", ".join(sealed.slack_user for sealed in census.neither[:10])
        more = f" and {len(census.neither) - 10} more" if len(census.neither) > 10 else ""
        opener = (
            "neither RINGBOT_SECRET_KEY nor RINGBOT_SECRET_KEY_OLD opens"
            if vault.has_old_key
            else "RINGBOT_SECRET_KEY does not open"
        )
        return Check(
            "secret key",
            False,
            f"{opener} {len(census.neither)} of {census.total} stored SIP passwords "
            f"(Call back is refused for {whose}{more})",
            f"set RINGBOT_SECRET_KEY_OLD to the key they were sealed with and run `ringbot rotate-key`, "
            f"or have them /ring link again ({rotation})",
        )
    if census.old:
        return Check(
            "secret key",
            True,
            f"{census.old} of {census.total} stored SIP passwords still need RINGBOT_SECRET_KEY_OLD: "
            f"run `ringbot rotate-key` ({rotation})",
        )
    if vault.has_old_key:
        return Check(
            "secret key",
            True,
            f"all {census.total} stored SIP passwords open with RINGBOT_SECRET_KEY: nothing needs "
            "RINGBOT_SECRET_KEY_OLD any more, you can remove it",
        )
    return Check("secret key", True, f"SIP passwords encrypted at rest; all {census.total} stored open with this key")


def stored_passwords(settings: Settings, vault: Vault) -> KeyCensus | None:
    """Which key opens each stored SIP password, read-only; None when there is no database (or no links table)
    to read: the database check says why."""
    path = Path(settings.db_path)
    if not path.is_file():
        return None
    try:
        store = Store.open_read_only(path)
        try:
            return key_census(store, vault)
        finally:
            store.close()
    except sqlite3.Error:
        return None


async def run_doctor(
    settings: Settings, out: Callable[[str], None] = print, *, subscribe_wait: float = SUBSCRIBE_WAIT
) -> int:
    """Every check, one line each and nothing else: log records are silenced while doctor runs. `subscribe_wait`:
    how long an accepted subscription is watched for a late refusal (a refusal ends the wait at once)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        return await _run_checks(settings, out, subscribe_wait)
    finally:
        logging.disable(previous)


async def _run_checks(settings: Settings, out: Callable[[str], None], subscribe_wait: float) -> int:
    started = time.monotonic()
    out(
        f"[ok  ] configuration: loaded (mode {'socket' if settings.socket_mode else 'http'}, "
        f"timezone {settings.timezone}, alerts to {settings.alert_channel})"
    )
    checks: list[Check] = []
    checks += await check_antbuddy(settings)
    checks.append(await check_stream(settings))
    token = next(c for c in checks if c.name == "AntBuddy token")
    if not token.ok:
        reason = "AntBuddy unreachable" if "no answer" in token.detail else "the app credentials were not accepted"
        checks.append(_skip("event subscription", reason))
    elif not checks[-1].ok:
        checks.append(_skip("event subscription", "the event stream check failed"))
    else:
        checks.append(await check_subscribe(settings, wait=subscribe_wait))
    slack = await check_slack(settings)
    checks += slack
    checks.append(await check_http_port(settings))
    db, stored = check_database(settings)
    checks.append(db)
    checks += check_given_up(settings)
    channels, route_checks = alert_channels(settings, stored)
    checks += route_checks
    if slack[0].ok:
        checks += await check_channels(settings, channels)
    else:
        checks.append(_skip("alert channels", "Slack auth.test failed"))
    checks.append(check_secret_key(settings))
    for c in checks:
        out(c.line())
    failed = [c for c in checks if not c.ok and not c.skipped]
    skipped = sum(1 for c in checks if c.skipped)
    passed = len(checks) + 1 - len(failed) - skipped
    tail = f", {skipped} skipped" if skipped else ""
    out(f"{passed} ok, {len(failed)} failed{tail} ({time.monotonic() - started:.1f} s)")
    sys.stdout.flush()
    return 1 if failed else 0
