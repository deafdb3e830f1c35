"""`tidings dkim ...`: make, show, list and remove the DKIM key of a sending domain.

Invariant: no output, text or `--json`, ever contains a private key; what is printed is
the public DNS record, which can be shown again at any time with `tidings dkim show`.
"""

from __future__ import annotations

import argparse

import redis.asyncio as aioredis

from relay import dkim_keys
from relay.account_commands import Output
from relay.dkim_keys import DkimKey
from relay.store import dkim as store
from relay.store.dkim import DkimError


def add_dkim_parser(commands: argparse._SubParsersAction) -> None:
    dkim = commands.add_parser("dkim", help="DKIM keys of sending domains")
    sub = dkim.add_subparsers(dest="action", required=True, metavar="ACTION")

    def command(name: str, help_text: str, *positional: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        for arg in positional:
            parser.add_argument(arg)
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        return parser

    generate = command("generate", "make a key and print the DNS TXT record to publish",
                       "domain")
    generate.add_argument("--selector", default="tidings",
                          help="the s= name; the record goes at SELECTOR._domainkey.DOMAIN")
    generate.add_argument("--algorithm", choices=dkim_keys.ALGORITHMS, default="rsa",
                          help="rsa (2048 bits, understood everywhere) or ed25519")
    generate.add_argument("--replace", action="store_true",
                          help="replace an existing key (its DNS record stops working)")
    command("show", "print a domain's DNS TXT record again", "domain")
    command("list", "list the domains that have a key")
    command("remove", "remove a domain's key (its mail goes out unsigned)", "domain")


async def run_dkim(args: argparse.Namespace, r: aioredis.Redis) -> Output:
    handler = {"generate": _generate, "show": _show, "list": _list, "remove": _remove}
    return await handler[args.action](args, r)


async def _generate(args, r: aioredis.Redis) -> Output:
    key = dkim_keys.generate(args.domain, args.selector, args.algorithm)
    await store.save(r, key, replace=args.replace)
    text = "\n".join([
        f"DKIM key for {key.domain} created ({key.algorithm}, selector {key.selector}).",
        "",
        "Publish this DNS TXT record:",
        "",
        dkim_keys.txt_record(key),
        "",
        f"From now on, messages whose From domain is {key.domain} are signed with this key;",
        "receivers can verify them once the record is published.",
    ])
    return Output(_public(key, await store.created(r, key.domain)), text)


async def _show(args, r: aioredis.Redis) -> Output:
    key = await _existing(r, args.domain)
    data = _public(key, await store.created(r, key.domain))
    text = "\n".join([
        dkim_keys.txt_record(key),
        "",
        f"name   {data['record_name']}",
        f"value  {data['txt_value']}",
    ])
    return Output(data, text)


async def _list(args, r: aioredis.Redis) -> Output:
    rows = []
    for domain in await store.domains(r):
        key = await store.load(r, domain)
        if key is not None:  # removed while we were listing
            rows.append({"domain": key.domain, "selector": key.selector,
                         "algorithm": key.algorithm})
    if not rows:
        return Output(rows, "no DKIM keys yet (tidings dkim generate DOMAIN makes one)")
    width = max(len(row["domain"]) for row in rows)
    lines = [f"{row['domain'].ljust(width)}  {row['selector']}  {row['algorithm']}"
             for row in rows]
    return Output(rows, "\n".join(lines))


async def _remove(args, r: aioredis.Redis) -> Output:
    domain = dkim_keys.normalize_domain(args.domain)
    if not await store.remove(r, domain):
        raise DkimError(f"{domain} has no DKIM key")
    return Output({"domain": domain, "removed": True},
                  f"DKIM key of {domain} removed; its mail goes out unsigned from now on. "
                  "Its DNS record can be deleted.")


async def _existing(r: aioredis.Redis, domain: str) -> DkimKey:
    domain = dkim_keys.normalize_domain(domain)
    key = await store.load(r, domain)
    if key is None:
        raise DkimError(f"{domain} has no DKIM key (tidings dkim generate {domain} makes one)")
    return key


def _public(key: DkimKey, created: int | None) -> dict:
    """Everything about a key that may be shown: not the private key."""
    return {"domain": key.domain, "selector": key.selector, "algorithm": key.algorithm,
            "record_name": dkim_keys.record_name(key), "txt_value": dkim_keys.txt_value(key),
            "txt_record": dkim_keys.txt_record(key), "created": created}
