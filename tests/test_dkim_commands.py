"""`tidings dkim ...`, driven through its own parser against the test Redis.

What generate stores is checked by reading it back and signing with it; every output,
text and JSON, is checked for the absence of the private key.
"""

from __future__ import annotations

import argparse
import json

import pytest

from relay import keys
from relay.delivery.dkim import Signer
from relay.dkim_commands import add_dkim_parser, run_dkim
from relay.redis_client import redis_client
from relay.store import dkim as store
from relay.store.dkim import DkimError

PARSER = argparse.ArgumentParser(prog="tidings")
add_dkim_parser(PARSER.add_subparsers(dest="command", required=True))


@pytest.fixture
async def client(redis_url):
    client = redis_client(redis_url, timeout=5)
    yield client
    await client.aclose()


@pytest.fixture
def dkim(client):
    """Run `tidings dkim ARGS...`; checks no output ever shows a private key."""

    async def run(*args: str):
        output = await run_dkim(PARSER.parse_args(["dkim", *args]), client)
        for domain in await store.domains(client):
            secret = (await store.load(client, domain)).private_key.decode()
            body = "".join(secret.strip().splitlines()[1:-1])
            for shown in (output.text, json.dumps(output.data)):
                assert "PRIVATE KEY" not in shown
                for secret_part in (body[40:100], body[-60:]):  # random material
                    assert secret_part not in shown.replace("\\n", "").replace("\n", "")
        return output

    return run


async def test_generate_stores_a_key_and_prints_its_record(dkim, client, r):
    output = await dkim("generate", "Shop.Example", "--json")
    key = await store.load(client, "shop.example")
    assert key.selector == "tidings" and key.algorithm == "rsa"
    assert output.data["txt_value"] == f"v=DKIM1; k=rsa; p={key.public_key}"
    assert output.data["record_name"] == "tidings._domainkey.shop.example"
    assert output.data["txt_record"] in output.text
    assert "messages whose From domain is shop.example are signed" in output.text
    stored = r.hgetall(keys.dkim("shop.example"))
    assert set(stored) == {"selector", "algorithm", "private_key", "public_key", "created"}
    assert Signer(key).sign(b"From: a@shop.example\r\n\r\nhi\r\n").startswith(b"DKIM-Signature")


async def test_generate_with_selector_and_ed25519(dkim, client):
    output = await dkim("generate", "shop.example", "--selector", "s2024", "--algorithm",
                        "ed25519")
    assert output.text.splitlines()[4].startswith(
        's2024._domainkey.shop.example. IN TXT ( "v=DKIM1; k=ed25519; p=')
    key = await store.load(client, "shop.example")
    assert (key.selector, key.algorithm) == ("s2024", "ed25519")


async def test_a_second_generate_needs_replace(dkim, client):
    await dkim("generate", "shop.example")
    first = await store.load(client, "shop.example")
    with pytest.raises(DkimError, match="shop.example already has a DKIM key; use --replace"):
        await dkim("generate", "shop.example")
    assert await store.load(client, "shop.example") == first
    await dkim("generate", "shop.example", "--replace", "--algorithm", "ed25519")
    replaced = await store.load(client, "shop.example")
    assert replaced.algorithm == "ed25519" and replaced.private_key != first.private_key


async def test_show_prints_the_record_again(dkim):
    generated = await dkim("generate", "shop.example", "--json")
    shown = await dkim("show", "SHOP.example.", "--json")
    assert shown.data == generated.data
    assert generated.data["txt_record"] in (await dkim("show", "shop.example")).text


async def test_list_and_remove(dkim, client):
    assert (await dkim("list")).text.startswith("no DKIM keys yet")
    await dkim("generate", "shop.example")
    await dkim("generate", "news.example", "--algorithm", "ed25519", "--selector", "n1")
    listed = await dkim("list", "--json")
    assert listed.data == [
        {"domain": "news.example", "selector": "n1", "algorithm": "ed25519"},
        {"domain": "shop.example", "selector": "tidings", "algorithm": "rsa"},
    ]
    assert "news.example  n1  ed25519" in (await dkim("list")).text
    removed = await dkim("remove", "shop.example", "--json")
    assert removed.data == {"domain": "shop.example", "removed": True}
    assert await store.load(client, "shop.example") is None
    assert await store.domains(client) == ["news.example"]
    with pytest.raises(DkimError, match="shop.example has no DKIM key"):
        await dkim("remove", "shop.example")
    with pytest.raises(DkimError, match="shop.example has no DKIM key"):
        await dkim("show", "shop.example")


@pytest.mark.parametrize(("args", "message"), [
    (("generate", "not a domain"), "invalid domain 'not a domain'"),
    (("generate", "localhost"), "invalid domain 'localhost'"),
    (("generate", "shop-.example"), "invalid domain"),
    (("generate", "shop..example"), "invalid domain"),
    (("generate", "shop.example", "--selector", "s_1"), "invalid selector 's_1'"),
    (("generate", "shop.example", "--selector=-s"), "invalid selector"),
    (("generate", "shop.example", "--selector", "s" * 64), "invalid selector"),
    (("show", "bad_domain!"), "invalid domain"),
    (("remove", "bad_domain!"), "invalid domain"),
])
async def test_invalid_names_are_refused_in_one_line(dkim, client, args, message):
    with pytest.raises(ValueError, match=message):
        await dkim(*args)
    assert await store.domains(client) == []


async def test_an_unknown_algorithm_is_a_usage_error():
    with pytest.raises(SystemExit):
        PARSER.parse_args(["dkim", "generate", "shop.example", "--algorithm", "dsa"])
