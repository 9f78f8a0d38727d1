"""The `ringbot` command: run, demo, simulator, doctor, backfill, requeue."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from datetime import date, datetime

from bot import __version__
from bot.config import ConfigError, Settings, load_settings, read_environment
from bot.ops.logs import setup_logging

# Each command imports what it runs when it runs: `bot.app` alone brings in aiohttp, Bolt, APScheduler, httpx and
# the Slack SDK, and importing everything up here made every `ringbot` invocation take ~0.8 s instead of ~0.1 s
# (`time python -m bot.cli --help`), including the ones that only print help or a configuration error.

DESCRIPTION = "ringbot: AntBuddy Ring missed and abandoned calls in Slack, /ring commands and Call back."


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ringbot", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"ringbot {__version__}")
    sub = p.add_subparsers(dest="command", metavar="command")

    run = sub.add_parser("run", help="run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode)")
    run.add_argument("--mode", choices=("socket", "http"), help="force a mode (default: socket if SLACK_APP_TOKEN)")

    demo = sub.add_parser("demo", help="no credentials needed: simulator + bot + Slack printed to this terminal")
    demo.add_argument("--seconds", type=float, default=0, help="stop by itself after this many seconds (0: Ctrl-C)")
    demo.add_argument("--speed", type=float, default=1.0, help="how fast the simulated calls play (default 1.0)")

    sim = sub.add_parser("simulator", help="the AntBuddy simulator alone (REST + event stream + control API)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8700)
    sim.add_argument("--protocol", choices=("socketio", "socketio09", "kazoo"), default="socketio")
    sim.add_argument(
        "--payload-style",
        choices=("kazoo", "snake"),
        default="kazoo",
        help="event keys as Kazoo sends them (Call-ID...) or as AntBuddy's document shows (call_id...)",
    )
    sim.add_argument("--traffic", type=float, default=0, help="random calls per minute to play (0: only on request)")

    sub.add_parser("doctor", help="check every setting against AntBuddy, Slack and the database")

    back = sub.add_parser("backfill", help="reconcile AntBuddy's call history since a date into alerts (exactly once)")
    back.add_argument("--since", required=True, help="YYYY-MM-DD")

    requeue = sub.add_parser("requeue", help="retry Slack messages that were given up on (e.g. after inviting the bot)")
    requeue.add_argument("--channel", help="only this channel id")
    return p


def main(argv: list[str] | None = None) -> int:
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
        print(f"ringbot: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    setup_logging(settings.log_level, settings.log_format, settings.secrets())
    commands: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
        "run": _run,
        "doctor": _doctor,
        "requeue": _requeue,
        "backfill": _backfill,
    }
    try:
        return commands[args.command](settings, args)
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
    return asyncio.run(run(settings, mode=mode))


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


def _backfill(settings: Settings, args: argparse.Namespace) -> int:
    try:
        since = date.fromisoformat(args.since)
    except ValueError:
        print(f"ringbot: --since must be YYYY-MM-DD, got {args.since!r}", file=sys.stderr)
        return 2
    from bot.app import run_backfill

    return asyncio.run(run_backfill(settings, datetime(since.year, since.month, since.day)))


def _demo(args: argparse.Namespace) -> int:
    from bot.devtools.demo import run_demo

    return asyncio.run(run_demo(seconds=args.seconds, speed=args.speed))


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
