"""`tidings account ...`: the exact command syntax of SPEC.md section 3, on top of relay.store.

Every command answers with an `Output`: `data` for `--json` (scripts) and `text` for people.
Secrets appear only in the output of the command that created them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from relay.settings import Settings
from relay.store import accounts, credentials


@dataclass(frozen=True)
class Output:
    data: Any
    text: str


def add_account_parser(commands: argparse._SubParsersAction) -> None:
    account = commands.add_parser("account", help="accounts, logins, API keys, senders, IPs")
    sub = account.add_subparsers(dest="action", required=True, metavar="ACTION")

    def command(parent, name: str, help_text: str, *positional: str, optional=()):
        parser = parent.add_parser(name, help=help_text)
        for arg in positional:
            parser.add_argument(arg)
        for arg in optional:
            parser.add_argument(arg, nargs="?")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        return parser

    create = command(sub, "create", "create an account with a login and an API key", "name")
    create.add_argument("--timezone", default="UTC", help="IANA zone for daily statistics")
    command(sub, "list", "list accounts")
    command(sub, "show", "show one account's rules", "name")
    change = command(sub, "set", "change an account's rules", "name")
    change.add_argument("--timezone")
    change.add_argument("--rate", type=int, help="messages per minute, 0 = no limit")
    change.add_argument("--unsubscribe", choices=["inject", "require", "off"])
    change.add_argument("--track-opens", choices=["on", "off"])
    change.add_argument("--track-clicks", choices=["on", "off"])
    for group, verbs, what in (("sender", ("add", "remove"), "address"),
                               ("ip", ("allow", "deny"), "cidr")):
        parser = sub.add_parser(group, help=f"confirmed {group}s" if group == "sender"
                                else "the IP allowlist")
        verbs_parser = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
        for verb in verbs:
            command(verbs_parser, verb, f"{verb} {what.upper()}", "name", what)
        command(verbs_parser, "list", f"list the {group}s", "name")
    for group, optional in (("login", "login"), ("key", "key_id")):
        parser = sub.add_parser(group, help="SMTP logins" if group == "login" else "API keys")
        verbs_parser = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
        command(verbs_parser, "create", f"create a {group} (its secret is shown once)", "name",
                optional=(optional,) if group == "login" else ())
        command(verbs_parser, "revoke", f"revoke a {group}", "name", optional)


class AccountCommands:
    def __init__(self, r: aioredis.Redis, settings: Settings):
        self.r = r
        self.settings = settings

    async def run(self, args: argparse.Namespace) -> Output:
        handler = getattr(self, f"_{args.action}")
        return await handler(args)

    async def _create(self, args) -> Output:
        name = await accounts.create(self.r, args.name, timezone=args.timezone)
        try:
            login = await credentials.create_login(self.r, name, name)
        except accounts.AccountError:
            # Another account already has a login of this name: make a fresh one.
            login = await credentials.create_login(self.r, name)
        key = await credentials.create_key(self.r, name)
        data = {"account": name, "host": self.settings.hostname,
                "smtp_port": self.settings.smtp_port, "smtps_port": self.settings.smtps_port,
                "login": login.login, "password": login.password, "api_key": key.key,
                "api_key_id": key.key_id}
        text = "\n".join([
            f"Account {name} created.",
            "",
            f"  SMTP host  {self.settings.hostname}",
            f"  ports      {self.settings.smtp_port} (STARTTLS), {self.settings.smtps_port} (TLS)",
            f"  login      {login.login}",
            f"  password   {login.password}",
            f"  API key    {key.key}",
            "",
            "The password and the API key are shown only now; Tidings keeps just their hashes.",
            f"Next, confirm a sender: tidings account sender add {name} you@example.com",
        ])
        return Output(data, text)

    async def _list(self, args) -> Output:
        names = await accounts.list_names(self.r)
        return Output(names, "\n".join(names) if names else "no accounts yet")

    async def _show(self, args) -> Output:
        info = await accounts.show(self.r, args.name)
        width = max(len(key) for key in info)
        lines = [f"{key.ljust(width)}  {_human(value)}" for key, value in info.items()]
        return Output(info, "\n".join(lines))

    async def _set(self, args) -> Output:
        changes = accounts.RuleChanges(timezone=args.timezone, rate=args.rate,
                                       unsubscribe=args.unsubscribe,
                                       track_opens=args.track_opens,
                                       track_clicks=args.track_clicks)
        await accounts.change(self.r, args.name, changes)
        return await self._show(args)

    async def _sender(self, args) -> Output:
        return await self._members(args, add=accounts.add_sender, remove=accounts.remove_sender,
                                   listing=accounts.list_senders, value=getattr(args, "address",
                                                                                None))

    async def _ip(self, args) -> Output:
        return await self._members(args, add=accounts.allow_ip, remove=accounts.deny_ip,
                                   listing=accounts.list_ips, value=getattr(args, "cidr", None))

    async def _members(self, args, *, add, remove, listing, value) -> Output:
        if args.verb == "list":
            items = await listing(self.r, args.name)
            empty = "(none: every address is allowed)" if args.action == "ip" else "(none)"
            return Output(items, "\n".join(items) if items else empty)
        changed = await (add if args.verb in ("add", "allow") else remove)(self.r, args.name,
                                                                            value)
        verb = {"add": "added", "remove": "removed", "allow": "allowed", "deny": "denied"}
        return Output({"account": args.name, args.action: changed, "action": args.verb},
                      f"{changed} {verb[args.verb]}")

    async def _login(self, args) -> Output:
        if args.verb == "create":
            login = await credentials.create_login(self.r, args.name, args.login)
            return Output({"login": login.login, "password": login.password},
                          f"login     {login.login}\npassword  {login.password}\n"
                          "The password is shown only now.")
        await credentials.revoke_login(self.r, args.name, args.login)
        return Output({"revoked": args.login}, f"login {args.login} revoked")

    async def _key(self, args) -> Output:
        if args.verb == "create":
            key = await credentials.create_key(self.r, args.name)
            return Output({"api_key": key.key, "key_id": key.key_id},
                          f"API key  {key.key}\nkey id   {key.key_id}\nThe key is shown only now.")
        await credentials.revoke_key(self.r, args.name, args.key_id)
        return Output({"revoked": args.key_id}, f"API key {args.key_id} revoked")


def _human(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(value) if value else "(none)"
    return str(value)
