"""`ringbot doctor`: one line per check against the real services, with the fix in words; exit 1 on any failure."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.antbuddy import AntBuddyClient, AuthError
from bot.callback.vault import Vault
from bot.config import Settings
from bot.ops.scopes import REQUIRED_SCOPES
from bot.stream.client import StreamAuthError, StreamClient
from bot.stream.probe import probe
from storage import Store

T = TypeVar("T")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        tail = f" — fix: {self.fix}" if (self.fix and not self.ok) else ""
        return f"[{mark}] {self.name}: {self.detail}{tail}"


async def _timed(step: Awaitable[T], seconds: float = 10.0) -> T:
    return await asyncio.wait_for(step, seconds)


async def check_antbuddy(settings: Settings) -> list[Check]:
    checks: list[Check] = []
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
            checks.append(
                Check(
                    "AntBuddy token",
                    False,
                    f"no answer from {settings.antbuddy_api_url}: {exc}",
                    "check ANTBUDDY_API_URL and that this machine can reach it",
                )
            )
        if not checks[-1].ok:
            # Everything else AntBuddy answers needs the same credentials: one clear failure, not three vague ones.
            for name in ("AntBuddy history", "AntBuddy dashboard"):
                checks.append(
                    Check(
                        name,
                        False,
                        "skipped: the app credentials were not accepted",
                        "fix the AntBuddy token check first",
                    )
                )
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


async def check_subscribe(settings: Settings, *, wait: float = 2.0) -> Check:
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


def check_database(settings: Settings) -> Check:
    try:
        store = Store.open(settings.db_path)
        try:
            store.writable()
            mode = store.journal_mode()
        finally:
            store.close()
        return Check("database", True, f"{settings.db_path} writable (journal {mode})")
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line of the report
        return Check("database", False, f"{settings.db_path}: {exc}", "point RINGBOT_DB at a writable path")


def check_secret_key(settings: Settings) -> Check:
    if not settings.secret_key:
        return Check(
            "secret key",
            False,
            "RINGBOT_SECRET_KEY not set: /ring link is refused",
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
        )
    try:
        Vault(settings.secret_key).encrypt("probe")
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line of the report
        return Check("secret key", False, str(exc), "generate a Fernet key (see docs/setup.md)")
    return Check("secret key", True, "SIP passwords will be encrypted at rest")


async def run_doctor(settings: Settings, out: Callable[[str], None] = print) -> int:
    started = time.monotonic()
    out(
        f"[ok  ] configuration: loaded (mode {'socket' if settings.socket_mode else 'http'}, "
        f"timezone {settings.timezone}, alerts to {settings.alert_channel})"
    )
    checks: list[Check] = []
    checks += await check_antbuddy(settings)
    checks.append(await check_stream(settings))
    if checks[-1].ok and all(c.ok for c in checks if c.name == "AntBuddy token"):
        checks.append(await check_subscribe(settings))
    checks += await check_slack(settings)
    checks.append(check_database(settings))
    checks.append(check_secret_key(settings))
    for c in checks:
        out(c.line())
    failed = [c for c in checks if not c.ok]
    out(f"{len(checks) + 1 - len(failed)} ok, {len(failed)} failed ({time.monotonic() - started:.1f} s)")
    sys.stdout.flush()
    return 1 if failed else 0
