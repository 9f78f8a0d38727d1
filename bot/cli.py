"""The `ringbot` command: run, demo, simulator, doctor, backfill, digest, requeue, purge, rotate-key."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn

from bot import __version__
from bot.config import ConfigError, Settings, SetupError, load_settings, read_environment
from bot.ops.logs import setup_logging

# Each command imports what it runs when it runs: `bot.app` alone brings in aiohttp, Bolt, APScheduler, httpx and
# the Slack SDK, and importing everything up here made every `ringbot` invocation take ~0.8 s instead of ~0.1 s
# (`time python -m bot.cli --help`), including the ones that only print help or a configuration error.

DESCRIPTION = "ringbot: AntBuddy Ring missed and abandoned calls in Slack, /ring commands and Call back."


def _bounded(
    parse: Callable[[str], float], low: float, high: float, *, noun: str = "a number", unit: str = ""
) -> Callable[[str], float]:
    """An argparse type: a number in [low, high]; anything else is refused with the range named."""

    def check(text: str) -> float:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {noun}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}{unit}, got {text!r}")
        return value

    return check


_seconds = _bounded(float, 0, 86400 * 365, noun="a number of seconds", unit=" seconds")
_speed = _bounded(float, 0.1, 100)
_port = _bounded(int, 0, 65535, noun="a whole number")
_per_minute = _bounded(float, 0, 600, unit=" calls a minute")


def _channel(text: str) -> str:
    if text[:1] not in ("C", "G", "D") or not text.isalnum() or text.upper() != text:
        raise argparse.ArgumentTypeError(f"must be a Slack channel id like C0123ABCD, got {text!r}")
    return text


class _Help(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it has none (required, or explained in the text)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, argparse.SUPPRESS) and not action.required and action.option_strings:
            if "default" not in text and action.dest != "help":
                text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """A mistake on the command line is one line (and exit 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _command(sub: argparse._SubParsersAction, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description, formatter_class=_Help)
    return parser


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ringbot", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"ringbot {__version__}")
    sub = p.add_subparsers(dest="command", metavar="command", parser_class=_Parser)

    run = _command(
        sub,
        "run",
        "run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode)",
        "Run the bot: read AntBuddy's event stream, post missed and abandoned calls to Slack, answer /ring and "
        "the buttons. Settings come from the environment and ./.env (see deploy/env.example). A second `run` on "
        "the same RINGBOT_DB waits as a hot standby (/healthz says role standby) and takes over when the first stops.",
    )
    run.add_argument(
        "--mode",
        choices=("socket", "http"),
        default=None,
        help="force a mode (default: socket if SLACK_APP_TOKEN is set, else http)",
    )

    demo = _command(
        sub,
        "demo",
        "no credentials needed: simulator + bot + Slack printed to this terminal",
        "Play simulated calls through the real bot and print what Slack would show, in this terminal.",
    )
    demo.add_argument(
        "--seconds", type=_seconds, default=0.0, help="stop by itself after this many seconds (0: Ctrl-C)"
    )
    demo.add_argument("--speed", type=_speed, default=1.0, help="how fast the simulated calls play")
    demo.add_argument(
        "--lang",
        choices=("en", "vi"),
        default="en",
        help="the channel's language and @an's Slack locale",
    )

    sim = _command(
        sub,
        "simulator",
        "the AntBuddy simulator alone (REST + event stream + control API)",
        "Serve a stand-in for AntBuddy (REST API, event stream, and a control API under /_sim/) for trying "
        "ringbot without an AntBuddy account.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sim.add_argument("--port", type=_port, default=8700, help="port to listen on (0: any free port)")
    sim.add_argument(
        "--protocol", choices=("socketio", "socketio09", "kazoo"), default="socketio", help="stream protocol"
    )
    sim.add_argument(
        "--payload-style",
        choices=("kazoo", "snake"),
        default="kazoo",
        help="event keys as Kazoo sends them (Call-ID...) or as AntBuddy's document shows (call_id...)",
    )
    sim.add_argument("--traffic", type=_per_minute, default=0.0, help="random calls per minute to play (0: on request)")

    _command(
        sub,
        "doctor",
        "check every setting against AntBuddy, Slack and the database",
        "Check every setting against AntBuddy, Slack and the database, one line per check; changes nothing. "
        "Exit 0 when all pass, 1 otherwise.",
    )

    back = _command(
        sub,
        "backfill",
        "reconcile AntBuddy's call history since a date into alerts (exactly once)",
        "Read AntBuddy's call history since a date and raise the alerts the bot missed (never one twice); posts "
        "them unless a running bot does.",
    )
    back.add_argument("--since", required=True, help="first day to read, YYYY-MM-DD (required)")

    digest = _command(
        sub,
        "digest",
        "the daily digest on demand: --preview prints it and writes its chart, --post sends it now",
        "The daily digest of a day, now. --preview prints it as the channel would read it and writes its chart to a "
        "PNG file, sending nothing; --post queues it for every alert channel and sends it (a running bot on the "
        "same database sends it instead). Calls of the day that ringbot's records lack are read from AntBuddy's "
        "history first.",
    )
    what = digest.add_mutually_exclusive_group(required=True)
    what.add_argument("--preview", action="store_true", help="print the digest and write its chart; send nothing")
    what.add_argument("--post", action="store_true", help="send the digest to the alert channels now")
    digest.add_argument("--date", default=None, help="the day, YYYY-MM-DD (default: today, in RINGBOT_TIMEZONE)")
    digest.add_argument(
        "--lang", choices=("en", "vi"), default=None, help="--preview: its language (default: RINGBOT_LANGUAGE)"
    )
    digest.add_argument(
        "--out", default=None, help="--preview: the chart's PNG file (default: ./ringbot-digest-<day>.png)"
    )

    requeue = _command(
        sub,
        "requeue",
        "retry Slack messages that were given up on (e.g. after inviting the bot)",
        "Queue again the Slack messages that were given up on; each is looked up in Slack first, so nothing is "
        "posted twice.",
    )
    requeue.add_argument("--channel", type=_channel, default=None, help="only this channel id (default: every channel)")

    purge = _command(
        sub,
        "purge",
        "delete calls, alerts, audit and the rest from before a date, and shrink the file",
        "Delete now what the daily prune would delete once RINGBOT_RETENTION_DAYS covered the date: calls, alerts "
        "(with their owners and DM copies), audit rows, short hang-ups, queue breaches, digests, legs and the "
        "Slack messages already sent or given up, from before the date (midnight in RINGBOT_TIMEZONE); then give "
        "the space back to the file system. Routes, links, dial rules and watches are kept. A database made "
        "before retention existed is rewritten once (VACUUM) so that it can shrink; that needs ringbot run "
        "stopped.",
    )
    purge.add_argument("--before", required=True, help="keep this day and later, YYYY-MM-DD (required)")
    _command(
        sub,
        "rotate-key",
        "re-encrypt the stored SIP passwords from RINGBOT_SECRET_KEY_OLD to RINGBOT_SECRET_KEY",
        "Re-encrypt with RINGBOT_SECRET_KEY every stored SIP password that only RINGBOT_SECRET_KEY_OLD opens, in one "
        "transaction, so nobody links their phone again; safe beside a running ringbot. A password neither key opens "
        "is named and left as it is (exit 2). The procedure: docs/operations.md, Rotating the secret key.",
    )
    return p


def _fail(message: str) -> int:
    print(f"ringbot: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """`ringbot`: the exit code of the command asked for. A reader that goes away (`ringbot doctor | head -1`)
    ends it quietly, as it ends a Unix tool."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader gone shows here, not as Python's "Exception ignored" at exit
    except BrokenPipeError:
        return _reader_gone()
    return code


def _reader_gone() -> int:
    """Stop without a word once nobody reads our output: /dev/null takes what is still buffered (Python flushes
    stdout at exit), and the status is the one a shell shows for a tool ended by SIGPIPE (128 + 13)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 128 + signal.SIGPIPE


def _main(argv: list[str] | None) -> int:
    from storage.schema import DatabaseUnusable

    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    try:
        if args.command == "simulator":
            return _simulator(args)
        if args.command == "demo":
            return _demo(args)
        settings = load_settings(mode=getattr(args, "mode", None))
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}")
    except SetupError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 0
    setup_logging(settings.log_level, settings.log_format, settings.secrets())
    commands: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
        "run": _run,
        "doctor": _doctor,
        "requeue": _requeue,
        "backfill": _backfill,
        "purge": _purge,
        "rotate-key": _rotate_key,
        "digest": _digest,
    }
    try:
        return commands[args.command](settings, args)
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}")
    except (SetupError, DatabaseUnusable) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.alerts.routes import RoutesFileError, read_routes_file
    from bot.app import run

    if settings.routes_file:
        try:
            read_routes_file(settings.routes_file)
        except RoutesFileError as exc:
            print(f"ringbot: configuration error: RINGBOT_ROUTES_FILE: {exc}", file=sys.stderr)
            return 2
    mode = args.mode or ("socket" if settings.socket_mode else "http")
    if mode == "http" and not settings.slack_signing_secret:
        print("ringbot: configuration error: SLACK_SIGNING_SECRET is not set (required in HTTP mode)", file=sys.stderr)
        return 2
    _preflight(settings)
    return asyncio.run(run(settings, mode=mode))


def _preflight(settings: Settings) -> None:
    """The mistakes found before anything starts, each one line and exit 2 (main turns the exception into it):
    a database path that cannot work, an HTTP port already taken. `bot.app.start` checks both again."""
    import socket

    from bot.slack.app import cannot_listen
    from storage.schema import check_db_path

    check_db_path(settings.db_path)
    try:
        with socket.socket(socket.AF_INET6 if ":" in settings.http_host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does: TIME_WAIT is no conflict
            probe.bind((settings.http_host, settings.http_port))
    except OSError as exc:
        raise SetupError(cannot_listen(settings.http_host, settings.http_port, exc)) from None


def _doctor(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.doctor import run_doctor

    return asyncio.run(run_doctor(settings))


def _requeue(settings: Settings, args: argparse.Namespace) -> int:
    from storage import Store

    store = Store.open(settings.db_path)
    try:
        count = store.requeue_dead(channel=args.channel)
    finally:
        store.close()
    print(
        f"{count} Slack message(s) queued again; a running ringbot sends them within seconds "
        "(each is first looked up in Slack, so nothing is posted twice)"
    )
    return 0


def _rotate_key(settings: Settings, args: argparse.Namespace) -> int:
    import sqlite3
    from pathlib import Path

    from bot.callback.links import rotate_key
    from bot.callback.vault import Vault
    from storage import Store, write_failure

    if not settings.secret_key:
        return _fail("RINGBOT_SECRET_KEY is not set: it is the key the stored SIP passwords are re-encrypted with")
    if not Path(settings.db_path).is_file():
        return _fail(f"RINGBOT_DB {settings.db_path} does not exist: there are no stored SIP passwords to re-encrypt")
    vault = Vault(settings.secret_key, settings.secret_key_old)
    store = Store.open(settings.db_path)
    try:
        done = rotate_key(store, vault)
    except sqlite3.OperationalError as exc:
        return _fail(f"the database cannot be written ({write_failure(exc)}): nothing was changed, try again")
    finally:
        store.close()
    print(f"{done.rotated} SIP password(s) re-encrypted with RINGBOT_SECRET_KEY; {done.already_new} already were")
    if done.changed:
        print(f"{done.changed} link(s) changed by a running ringbot meanwhile: left as they are")
    if done.unreadable:
        whose = ", ".join(f"{_printable(s.slack_user)} ({_printable(s.sip_user)})" for s in done.unreadable)
        return _fail(
            f"{len(done.unreadable)} stored SIP password(s) open with neither key and were left as they are: {whose}; "
            "set RINGBOT_SECRET_KEY_OLD to the key they were sealed with and run rotate-key again, or have them "
            "link again with /ring link"
        )
    if vault.has_old_key:
        print("No stored SIP password needs RINGBOT_SECRET_KEY_OLD any more: remove it and restart ringbot.")
    return 0


def _printable(text: str) -> str:
    """A stored value on one terminal line: what is not printable (a newline, an escape sequence) becomes `?`."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _backfill(settings: Settings, args: argparse.Namespace) -> int:
    try:
        since = date.fromisoformat(args.since)
    except ValueError:
        return _fail(f"--since must be YYYY-MM-DD, got {args.since!r}")
    today = datetime.now(settings.tz).date()
    if since > today:
        return _fail(f"--since {since} is in the future (today is {today} in {settings.timezone}): nothing to read")
    from bot.app import run_backfill
    from bot.ops.progress import BackfillProgress

    # Progress and the summary are the command's output (stdout); log lines go to stderr (bot/ops/logs.py).
    progress = BackfillProgress(sys.stdout, settings.tz, bar=sys.stdout.isatty())

    def say(line: str) -> None:
        progress.end_bar()
        print(line, flush=True)

    return asyncio.run(
        run_backfill(settings, datetime(since.year, since.month, since.day), out=say, on_page=progress.page)
    )


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    try:
        day = date.fromisoformat(args.before)
    except ValueError:
        return _fail(f"--before must be YYYY-MM-DD, got {args.before!r}")
    before = datetime(day.year, day.month, day.day, tzinfo=settings.tz)
    if before > datetime.now(settings.tz):
        return _fail(f"--before {day} is in the future: nothing recorded so far would be kept")
    import sqlite3

    from bot.app import bot_is_running
    from bot.ops.retention import purge
    from storage import Store

    store = Store.open(settings.db_path)
    try:
        done = purge(store, before.timestamp(), may_vacuum=not bot_is_running(store))
    except sqlite3.OperationalError as exc:
        return _fail(f"purge stopped: the database refused ({exc}); nothing more was deleted, run it again")
    finally:
        store.close()
    print(f"purge before {day} ({settings.timezone}):")
    for table, count in done.removed.items():
        print(f"  {table:<16} {count:>9} removed")
    print(f"  total            {sum(done.removed.values()):>9} removed")
    if done.switched:
        print("database rewritten once (VACUUM) so that pruned space goes back to the file system from now on")
    elif done.switch_refused:
        print(
            f"the file keeps its size: it was made before retention and needs one VACUUM, which could not run "
            f"({done.switch_refused}); stop ringbot run and purge again"
        )
    print(f"database size {_mb(done.bytes_before)} -> {_mb(done.bytes_after)}")
    return 0


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _digest(settings: Settings, args: argparse.Namespace) -> int:
    today = datetime.now(settings.tz).date()
    try:
        day = date.fromisoformat(args.date) if args.date else today
    except ValueError:
        return _fail(f"--date must be YYYY-MM-DD, got {args.date!r}")
    if day > today:
        return _fail(f"--date {day} is in the future (today is {today} in {settings.timezone})")
    if args.post:
        from bot.app import post_digest
        from bot.devtools.console import mrkdwn_to_text

        return asyncio.run(post_digest(settings, day.isoformat(), out=lambda line: print(mrkdwn_to_text(line))))
    png = Path(args.out or f"ringbot-digest-{day}.png")
    return _preview_digest(settings, day.isoformat(), lang=args.lang or settings.language, out=png)


def _preview_digest(settings: Settings, day: str, *, lang: str, out: Path) -> int:
    from bot.app import preview_digest
    from bot.devtools.console import message_to_text, mrkdwn_to_text

    preview = asyncio.run(preview_digest(settings, day, lang=lang))
    for line in message_to_text(preview.message):
        print(line)
    if preview.note:
        print(mrkdwn_to_text(preview.note))
    if preview.png is None:
        print("no chart: matplotlib is not installed (pip install 'ringbot[charts]'); the text bars above stand in")
        return 0
    try:
        out.write_bytes(preview.png)
    except OSError as exc:
        return _fail(f"cannot write the chart to {out}: {exc.strerror or exc}")
    print(f"chart written to {out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.devtools.demo import run_demo

    return asyncio.run(run_demo(seconds=args.seconds, speed=args.speed, lang=args.lang))


def _simulator(args: argparse.Namespace) -> int:
    from bot.devtools.simulator.server import run_simulator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        asyncio.run(
            run_simulator(
                args.host,
                args.port,
                args.protocol,
                payload_style=args.payload_style,
                traffic_per_minute=args.traffic,
                environ=read_environment(),
            )
        )
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _fail(f"simulator: port {args.port} is already in use on {args.host}: choose another with --port")
        return _fail(f"simulator: cannot listen on --host {args.host!r} --port {args.port}: {exc.strerror or exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
