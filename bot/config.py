"""Settings: read once from the environment (and `.env`), validated, frozen."""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from dotenv import dotenv_values


class SetupError(Exception):
    """A mistake found at start-up that the operator fixes (a port in use, a setting): `ringbot` prints the
    message as one line and exits 2. The message never shows a secret."""


class ConfigError(SetupError):
    """A setting is missing or malformed; the message names it and never shows a secret."""


SECRET_FIELDS = frozenset(
    {
        "antbuddy_app_secret",
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "secret_key",
        "secret_key_old",
    }
)

HISTORY_DATE_FORMATS = ("iso", "unix", "unix_ms", "date", "gregorian")
HISTORY_HASHES = ("list", "short", "auto")
WS_PROTOCOLS = ("socketio", "socketio09", "kazoo", "auto")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class Settings:
    antbuddy_app_id: str
    antbuddy_app_secret: str = field(repr=False)
    antbuddy_account_id: str
    slack_bot_token: str = field(repr=False)
    alert_channel: str
    antbuddy_domain: str = ""
    antbuddy_email: str = ""
    antbuddy_api_url: str = "https://openapi.antbuddy.com"
    antbuddy_ws_url: str = "https://ws.antbuddy.com:5557"
    history_date_format: str = "iso"
    history_hash: str = "auto"
    ws_protocol: str = "auto"
    slack_app_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_api_url: str = "https://slack.com/api/"
    db_path: str = "./ringbot.db"
    timezone: str = "Asia/Ho_Chi_Minh"
    secret_key: str = field(default="", repr=False)
    secret_key_old: str = field(default="", repr=False)  # opens passwords sealed before a rotation; never seals
    admins: tuple[str, ...] = ()
    http_host: str = "0.0.0.0"
    http_port: int = 3000
    reconcile_seconds: int = 300
    grace_seconds: float = 2.0
    log_level: str = "INFO"
    log_format: str = "text"
    routes_file: str = ""
    channel_posts_per_second: float = 1.0
    country: str = "VN"  # ISO region of the center: Call back dials its numbers by default (bot/callback/policy.py)
    dial_allow: tuple[str, ...] = ()  # regions (GB) and number prefixes (+4420, 1900) Call back may dial too
    dial_deny: tuple[str, ...] = ()  # regions and prefixes Call back never dials, whatever else allows them
    admin_channel: str = ""  # where link/unlink and dial-rule changes are announced; "" DMs each RINGBOT_ADMINS
    # -- language: what channel messages are written in; a person's answers follow their Slack locale
    language: str = "en"  # RINGBOT_LANGUAGE: en or vi
    channel_languages: tuple[tuple[str, str], ...] = ()  # RINGBOT_CHANNEL_LANGUAGES: (channel id, language) pairs
    # -- queue health and the daily digest (docs/queues.md) --
    sla_seconds: int = 20  # a call answered within this many seconds of ringing counts toward the service level
    digest_at: str = "18:00"  # local HH:MM of the daily digest in each alert channel; "" when RINGBOT_DIGEST_AT=off
    queue_cooldown_seconds: int = 600  # after a queue recovers, a new breach this soon re-opens the same message
    retention_days: int = 400  # calls, alerts, audit and the rest older than this are pruned every day

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def socket_mode(self) -> bool:
        """Socket Mode is the default whenever an app-level token is configured."""
        return bool(self.slack_app_token)

    def secrets(self) -> list[str]:
        """Every non-empty secret value, for log scrubbing and leak tests."""
        return [v for f in fields(self) if f.name in SECRET_FIELDS and (v := getattr(self, f.name))]


# env var -> (field, required)
_ENV = {
    "ANTBUDDY_APP_ID": ("antbuddy_app_id", True),
    "ANTBUDDY_APP_SECRET": ("antbuddy_app_secret", True),
    "ANTBUDDY_ACCOUNT_ID": ("antbuddy_account_id", True),
    "ANTBUDDY_DOMAIN": ("antbuddy_domain", False),
    "ANTBUDDY_EMAIL": ("antbuddy_email", False),
    "ANTBUDDY_API_URL": ("antbuddy_api_url", False),
    "ANTBUDDY_WS_URL": ("antbuddy_ws_url", False),
    "ANTBUDDY_HISTORY_DATE_FORMAT": ("history_date_format", False),
    "ANTBUDDY_HISTORY_HASH": ("history_hash", False),
    "ANTBUDDY_WS_PROTOCOL": ("ws_protocol", False),
    "SLACK_BOT_TOKEN": ("slack_bot_token", True),
    "SLACK_APP_TOKEN": ("slack_app_token", False),
    "SLACK_SIGNING_SECRET": ("slack_signing_secret", False),
    "SLACK_API_URL": ("slack_api_url", False),
    "RINGBOT_ALERT_CHANNEL": ("alert_channel", True),
    "RINGBOT_DB": ("db_path", False),
    "RINGBOT_TIMEZONE": ("timezone", False),
    "RINGBOT_SECRET_KEY": ("secret_key", False),
    "RINGBOT_SECRET_KEY_OLD": ("secret_key_old", False),
    "RINGBOT_ADMINS": ("admins", False),
    "RINGBOT_HTTP_HOST": ("http_host", False),
    "RINGBOT_HTTP_PORT": ("http_port", False),
    "RINGBOT_RECONCILE_SECONDS": ("reconcile_seconds", False),
    "RINGBOT_GRACE_SECONDS": ("grace_seconds", False),
    "RINGBOT_LOG_LEVEL": ("log_level", False),
    "RINGBOT_LOG_FORMAT": ("log_format", False),
    "RINGBOT_ROUTES_FILE": ("routes_file", False),
    "RINGBOT_CHANNEL_POSTS_PER_SECOND": ("channel_posts_per_second", False),
    "RINGBOT_COUNTRY": ("country", False),
    "RINGBOT_DIAL_ALLOW": ("dial_allow", False),
    "RINGBOT_DIAL_DENY": ("dial_deny", False),
    "RINGBOT_ADMIN_CHANNEL": ("admin_channel", False),
    "RINGBOT_LANGUAGE": ("language", False),
    "RINGBOT_CHANNEL_LANGUAGES": ("channel_languages", False),
    # -- queue health and the daily digest --
    "RINGBOT_SLA_SECONDS": ("sla_seconds", False),
    "RINGBOT_DIGEST_AT": ("digest_at", False),
    "RINGBOT_QUEUE_COOLDOWN_SECONDS": ("queue_cooldown_seconds", False),
    "RINGBOT_RETENTION_DAYS": ("retention_days", False),
}
# `/ring stats 30d` reads a month of calls, so less than that would empty it; ten years is plenty.
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 31, 3650
LANGUAGES = ("en", "vi")  # bot/slack/i18n.py LANGUAGES (this layer may not import it)

_DIAL_PREFIX = re.compile(r"^\+?[0-9]{1,20}$")  # as long as a number validate_number lets through
_DIAL_NOISE = re.compile(r"[\s.\-()]")


def normalise_dial_rule(text: str) -> str:
    """One dial rule as written by an admin -> its stored form: a region in capitals (`gb` -> `GB`), or a
    number prefix without separators, `00` written as `+` (`00 44 20` -> `+4420`); ValueError(why) otherwise.
    A prefix without `+` is national (RINGBOT_COUNTRY's): bot/callback/policy.py reads it that way."""
    word = _DIAL_NOISE.sub("", text or "")
    if word.isalpha():
        region = word.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{text.strip()!r} is not a two-letter country code such as VN, US or GB")
        return region
    if word.startswith("00"):
        word = "+" + word[2:]
    if not _DIAL_PREFIX.fullmatch(word):
        raise ValueError(f"{text.strip()!r} is neither a country code (VN, GB) nor a number prefix (+4420, 1900)")
    return word


MIN_PASSPHRASE = 16  # characters: a shorter secret key is too easy to guess from a stolen database
_BASE64_PADDED = re.compile(r"[A-Za-z0-9_\-+/]+={1,2}")  # what a Fernet key looks like: base64 ending in padding


def fernet_key(key: str) -> bytes | None:
    """The key's bytes when it is a Fernet key (url-safe base64 of exactly 32 bytes, 44 characters), else None."""
    raw = key.strip().encode()
    try:
        decoded = base64.urlsafe_b64decode(raw)
    except (binascii.Error, ValueError):
        return None
    return raw if len(decoded) == 32 and len(raw) == 44 else None


def secret_key_problem(var: str, key: str, *, old: bool = False) -> str | None:
    """Why `key` cannot be the secret key `var` (one sentence naming `var`, never the key), or None when it can.

    A key is a Fernet key, or a passphrase of at least MIN_PASSPHRASE characters (the vault stretches it). Base64
    text ending in `=` padding is meant as a Fernet key: when it is not one (cut short, a character lost or
    changed), it is refused rather than stretched into a key nobody meant. The old key (`old`) is held only to
    what ringbot once accepted, since it must open what was sealed with it: before this check such a value was
    stretched as a passphrase, and it still is."""
    if fernet_key(key) is not None:
        return None
    if len(key) < MIN_PASSPHRASE:
        return f"{var} is neither a Fernet key nor a passphrase of at least {MIN_PASSPHRASE} characters"
    if not old and _BASE64_PADDED.fullmatch(key.strip()):
        return (
            f"{var} looks like a Fernet key but is not one (a Fernet key is 44 characters of url-safe base64, "
            "32 bytes): copy it again whole (docs/operations.md, Rotating the secret key)"
        )
    return None


def is_channel_id(text: str, kinds: str) -> bool:
    """A Slack conversation id (`C0123ABCD`) whose first letter is one of `kinds`; never a name like `#general`:
    Slack takes a name for a new post, but editing it, reading the channel back and linking to it need the id."""
    return len(text) >= 2 and text[0] in kinds and text.isascii() and text.isalnum() and text.upper() == text


def channel_id_wanted(var: str, value: str) -> str:
    """The one line saying a channel setting holds a name (or anything else) instead of the channel's id."""
    name = " (a channel's name)" if value.startswith("#") or not value.isupper() else ""
    return (
        f"{var} must be a channel id like C0123ABCD, got {value!r}{name}: in Slack open the channel, click its "
        "name, and copy the Channel ID shown at the bottom of the About tab"
    )


def read_dotenv(path: str | Path = ".env") -> dict[str, str]:
    """The `.env` file's variables (none if it is absent); the environment still wins over them."""
    p = Path(path)
    if not p.is_file():
        return {}
    return {k: v for k, v in dotenv_values(p).items() if v is not None}


def read_environment(dotenv: str | Path | None = ".env") -> dict[str, str]:
    """`.env` overlaid by the process environment: the one place ringbot reads `os.environ`."""
    env: dict[str, str] = read_dotenv(dotenv) if dotenv else {}
    env.update(os.environ)
    return env


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv: str | Path | None = ".env", mode: str | None = None
) -> Settings:
    """Build Settings from `.env` overlaid by the environment; raise ConfigError naming the bad variable.

    `mode` is the run mode asked for on the command line ("http" needs a signing secret).
    """
    if environ is None:
        env = read_environment(dotenv)
    else:
        env = read_dotenv(dotenv) if dotenv else {}
        env.update(environ)
    missing = [var for var, (_name, required) in _ENV.items() if required and not env.get(var, "").strip()]
    if missing:
        names = ", ".join(missing)
        where = "" if dotenv is None or Path(dotenv).is_file() else f" (no {Path(dotenv).name} file in {Path.cwd()})"
        raise ConfigError(f"{names} {'is' if len(missing) == 1 else 'are'} not set (required){where}")
    values: dict[str, object] = {}
    for var, (name, _required) in _ENV.items():
        raw = env.get(var, "").strip()
        if raw:
            values[name] = _parse(var, name, raw)
    # `_parse` gives each field its type; mypy cannot follow a name -> value mapping into the constructor.
    settings = Settings(**values)  # type: ignore[arg-type]
    _check(settings, mode)
    return settings


def _parse(var: str, name: str, raw: str) -> object:
    if name in ("language", "channel_languages"):
        return _parse_language(var, name, raw)
    if name == "admins":
        return tuple(a for a in (p.strip() for p in raw.replace(";", ",").split(",")) if a)
    if name in ("http_port", "reconcile_seconds"):
        try:
            whole = int(raw)
        except ValueError:
            raise ConfigError(f"{var} must be a whole number, got {raw!r}") from None
        low, high = (0, 65535) if name == "http_port" else (1, 7 * 86400)
        if not low <= whole <= high:
            raise ConfigError(f"{var} must be between {low} and {high}, got {raw!r}")
        return whole
    if name == "channel_posts_per_second":
        rate = _number(var, raw, "a number")
        if not 0 < rate <= 50:
            raise ConfigError(f"{var} must be above 0 and at most 50, got {raw!r}")
        return rate
    if name == "grace_seconds":
        seconds = _number(var, raw, "a number of seconds")
        if not 0 <= seconds <= 60:
            raise ConfigError(f"{var} must be between 0 and 60 seconds, got {raw!r}")
        return seconds
    if name == "country":
        region = raw.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(f"{var} must be a two-letter country code such as VN, got {raw!r}")
        return region
    if name in ("dial_allow", "dial_deny"):
        try:
            rules = [normalise_dial_rule(p) for p in raw.replace(";", ",").split(",") if p.strip()]
        except ValueError as exc:
            raise ConfigError(f"{var}: {exc}") from None
        return tuple(dict.fromkeys(rules))
    if name in ("sla_seconds", "queue_cooldown_seconds"):
        try:
            whole = int(raw)
        except ValueError:
            raise ConfigError(f"{var} must be a whole number of seconds, got {raw!r}") from None
        if not 0 <= whole <= 86400:
            raise ConfigError(f"{var} must be between 0 and 86400 seconds, got {raw!r}")
        return whole
    if name == "retention_days":
        try:
            days = int(raw)
        except ValueError:
            raise ConfigError(f"{var} must be a whole number of days, got {raw!r}") from None
        if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
            raise ConfigError(f"{var} must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS} days, got {raw!r}")
        return days
    if name == "digest_at":
        if raw.strip().lower() in ("", "off", "no", "false", "0"):
            return ""
        m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw.strip())
        if m is None:
            raise ConfigError(f"{var} must be a time like 18:00, or off; got {raw!r}")
        return f"{int(m[1]):02d}:{m[2]}"
    if name == "log_level":
        return raw.upper()
    if name == "slack_api_url":
        return raw if raw.endswith("/") else raw + "/"  # slack_sdk urljoins: a path needs its slash
    if name == "antbuddy_api_url":
        return raw.rstrip("/")
    if name in ("history_date_format", "history_hash", "ws_protocol", "log_format"):
        return raw.lower()
    return raw


def _parse_language(var: str, name: str, raw: str) -> object:
    """`vi` (RINGBOT_LANGUAGE), or `C0CALLS=vi, C0SALES=en` (RINGBOT_CHANNEL_LANGUAGES)."""

    def one(word: str) -> str:
        lang = word.strip().lower()
        if lang not in LANGUAGES:
            raise ConfigError(f"{var}: the language must be one of {', '.join(LANGUAGES)}, got {word.strip()!r}")
        return lang

    if name == "language":
        return one(raw)
    pairs = []
    for part in (p.strip() for p in raw.replace(";", ",").split(",")):
        if not part:
            continue
        channel, sep, lang = part.partition("=")
        channel = channel.strip()
        if not sep or channel[:1] not in ("C", "G"):
            raise ConfigError(f"{var} must read like C0123ABCD=vi, C0456EFGH=en; got {part!r}")
        pairs.append((channel, one(lang)))
    return tuple(pairs)


def _number(var: str, raw: str, what: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{var} must be {what}, got {raw!r}") from None


def _check(s: Settings, mode: str | None) -> None:
    choices = {
        "ANTBUDDY_HISTORY_DATE_FORMAT": (s.history_date_format, HISTORY_DATE_FORMATS),
        "ANTBUDDY_HISTORY_HASH": (s.history_hash, HISTORY_HASHES),
        "ANTBUDDY_WS_PROTOCOL": (s.ws_protocol, WS_PROTOCOLS),
        "RINGBOT_LOG_FORMAT": (s.log_format, LOG_FORMATS),
        "RINGBOT_LOG_LEVEL": (s.log_level, LOG_LEVELS),
    }
    for var, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"{var} must be one of {', '.join(allowed)}; got {value!r}")
    for var, url in (
        ("ANTBUDDY_API_URL", s.antbuddy_api_url),
        ("ANTBUDDY_WS_URL", s.antbuddy_ws_url),
        ("SLACK_API_URL", s.slack_api_url),
    ):
        if not url.startswith(("http://", "https://", "ws://", "wss://")):
            raise ConfigError(f"{var} must be an http(s) URL, got {url!r}")
    if not s.slack_bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    if s.slack_app_token and not s.slack_app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    if mode == "http" and not s.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is not set (required in HTTP mode)")
    if mode == "socket" and not s.slack_app_token:
        raise ConfigError("SLACK_APP_TOKEN is not set (required in Socket Mode)")
    if not is_channel_id(s.alert_channel, "CGD"):
        raise ConfigError(channel_id_wanted("RINGBOT_ALERT_CHANNEL", s.alert_channel))
    if s.admin_channel and not is_channel_id(s.admin_channel, "CG"):
        raise ConfigError(channel_id_wanted("RINGBOT_ADMIN_CHANNEL", s.admin_channel))
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"RINGBOT_TIMEZONE is not a known time zone: {s.timezone!r}") from None
    _check_secret_keys(s)


def _check_secret_keys(s: Settings) -> None:
    """A secret key that is set must be usable: a malformed one stops ringbot here rather than leaving linking
    refused (or, for a mistyped Fernet key, sealing passwords with a key nobody has written down)."""
    if s.secret_key_old and not s.secret_key:
        raise ConfigError(
            "RINGBOT_SECRET_KEY_OLD is set but RINGBOT_SECRET_KEY is not: the old key only opens passwords, "
            "the new one seals them (docs/operations.md, Rotating the secret key)"
        )
    for var, key, old in (
        ("RINGBOT_SECRET_KEY", s.secret_key, False),
        ("RINGBOT_SECRET_KEY_OLD", s.secret_key_old, True),
    ):
        problem = secret_key_problem(var, key, old=old) if key else None
        if problem:
            raise ConfigError(problem)
