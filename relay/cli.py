"""`tidings`: the command line. Parses arguments, builds Settings once, hands over to a role.

Invariant: every failure the operator can cause (a bad setting, a port in use, an unknown
account) ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

import redis

from relay import __version__
from relay.account_commands import AccountCommands, add_account_parser
from relay.dkim_commands import add_dkim_parser, run_dkim
from relay.redis_client import redis_client
from relay.redis_embedded import EmbeddedRedisError
from relay.roles import StartupError, redis_url, run
from relay.settings import Settings, SettingsError, load_settings
from relay.store.accounts import AccountError
from relay.store.dkim import DkimError

ROLES = {
    "serve": ("smtp", "worker", "api", "bounces"),
    "smtp": ("smtp",),
    "worker": ("worker",),
    "api": ("api",),
    "bounces": ("bounces",),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tidings", description="Transactional email relay.")
    parser.add_argument("--config", type=Path, help="TOML file with TIDINGS_* settings")
    parser.add_argument("--version", action="version", version=f"tidings {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run every role in one process group")
    commands.add_parser("smtp", help="run the SMTP submission role (587 + 465)")
    commands.add_parser("worker", help="run the delivery worker")
    commands.add_parser("api", help="run the HTTP service (tracking, statistics, admin)")
    commands.add_parser("bounces", help="run the bounce and complaint listener")
    commands.add_parser("demo", help="a guided tour on free local ports")
    add_account_parser(commands)
    add_dkim_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        configure_logging(settings.log_level, quiet=args.command not in ROLES)
        return dispatch(args, settings)
    except (SettingsError, StartupError, EmbeddedRedisError, AccountError,
            DkimError) as error:
        print(f"tidings: {error}", file=sys.stderr)
        return 1
    except (redis.RedisError, OSError) as error:
        print(f"tidings: Redis unavailable: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def configure_logging(level: str, *, quiet: bool) -> None:
    """Roles log at the configured level; one-shot commands only say what went wrong."""
    logging.basicConfig(level="WARNING" if quiet else level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiosmtpd logs every command at INFO and a deprecation warning on every AUTH:
    # noise at our volume, and a cost on the hot path. Our own handler logs decisions.
    if level != "DEBUG":
        logging.getLogger("mail.log").setLevel(logging.ERROR)


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in ROLES:
        run(settings, roles=ROLES[args.command])
        return 0
    if args.command == "demo":
        from relay.demo import run_demo

        return run_demo(settings)
    with redis_url(settings) as url:
        return asyncio.run(_one_shot(args, settings, url))


async def _one_shot(args: argparse.Namespace, settings: Settings, url: str) -> int:
    """`tidings account …` and `tidings dkim …`: one command against the data, printed."""
    client = redis_client(url, timeout=settings.redis_timeout)
    try:
        if args.command == "dkim":
            try:
                output = await run_dkim(args, client)
            except ValueError as error:  # a bad domain or selector
                raise DkimError(str(error)) from None
        else:
            output = await AccountCommands(client, settings).run(args)
    finally:
        await client.aclose()
    if args.json:
        print(json.dumps(output.data, indent=2, ensure_ascii=False))
    else:
        print(output.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
