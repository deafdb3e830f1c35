"""Generated secrets, their stored hashes, and the login / API key checks built on them."""

from __future__ import annotations

import asyncio
import math
import re
import string

import pytest

from relay.redis_client import redis_client
from relay.store import accounts, credentials, passwords

URLSAFE = set(string.ascii_letters + string.digits + "-_")
HASH_FORMAT = re.compile(r"hmac-sha256\$[0-9a-f]{32}\$[0-9a-f]{64}")


def run(redis_url: str, work):
    """Run `work(client)` against the test Redis on a fresh event loop."""

    async def go():
        client = redis_client(redis_url, timeout=5)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


# --- secrets and hashes (pure) --------------------------------------------------------------


def test_new_secret_has_at_least_128_bits():
    secrets = {passwords.new_secret() for _ in range(200)}
    assert len(secrets) == 200
    for secret in secrets:
        # Letters and digits only, so no tool takes a password for an option ("-x...").
        assert secret.isascii() and secret.isalnum()
        assert len(secret) * math.log2(62) >= 128


def test_hash_format_never_contains_the_secret():
    secret = passwords.new_secret()
    stored = passwords.hash_secret(secret)
    assert HASH_FORMAT.fullmatch(stored)
    assert secret not in stored
    assert passwords.hash_secret(secret) != stored, "every hash has its own salt"


@pytest.mark.parametrize("secret", ["s3cret", "", "päßwörd", "a" * 10_000, "\ud800lone"])
def test_verify_secret_accepts_only_the_same_secret(secret):
    stored = passwords.hash_secret(secret)
    assert passwords.verify_secret(secret, stored) is True
    assert passwords.verify_secret(secret + "x", stored) is False
    if secret:
        assert passwords.verify_secret(secret[:-1], stored) is False


def tampered(stored: str, part: int) -> str:
    """`stored` with the last hex digit of its salt (1) or digest (2) changed."""
    pieces = stored.split("$")
    pieces[part] = pieces[part][:-1] + ("0" if pieces[part][-1] != "0" else "1")
    return "$".join(pieces)


def test_verify_secret_refuses_a_tampered_hash():
    stored = passwords.hash_secret("s3cret")
    assert passwords.verify_secret("s3cret", tampered(stored, 1)) is False
    assert passwords.verify_secret("s3cret", tampered(stored, 2)) is False
    assert passwords.verify_secret("s3cret", stored.replace("hmac-sha256", "hmac-sha1")) is False
    assert passwords.verify_secret("s3cret", stored.upper()) is False


@pytest.mark.parametrize("stored", [
    "", "s3cret", "hmac-sha256", "hmac-sha256$", "hmac-sha256$$", "hmac-sha256$zz$00",
    "hmac-sha256$0$00", "hmac-sha256$00$00$00", "plain$s3cret$s3cret", "$$$", "é$é$é",
])
def test_verify_secret_refuses_a_malformed_stored_string(stored):
    assert passwords.verify_secret("s3cret", stored) is False


def test_verify_secret_compares_in_constant_time(monkeypatch):
    calls = []
    real = passwords.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", spy)
    stored = passwords.hash_secret("s3cret")

    assert passwords.verify_secret("wrong", stored) is False
    assert passwords.verify_secret("s3cret", stored) is True
    assert len(calls) == 2
    assert all(b == stored.split("$")[2] for _, b in calls)


# --- logins and API keys in Redis -----------------------------------------------------------


@pytest.fixture
def shop(redis_url):
    async def make(client):
        await accounts.create(client, "shop")
        login = await credentials.create_login(client, "shop", "shop")
        key = await credentials.create_key(client, "shop")
        return login, key

    return run(redis_url, make)


def test_only_hashes_are_stored(shop, r):
    login, key = shop
    secret = key.key.split("_", 2)[2]
    stored_login = r.hgetall("tidings:login:shop")
    stored_key = r.hgetall(f"tidings:apikey:{key.key_id}")
    assert HASH_FORMAT.fullmatch(stored_login["hash"])
    assert HASH_FORMAT.fullmatch(stored_key["hash"])
    everything = repr([(k, r.dump(k)) for k in r.keys("*")])
    assert login.password not in everything
    assert secret not in everything


def test_api_key_format(shop):
    _, key = shop
    match = re.fullmatch(r"tid_([0-9a-f]{12})_(.+)", key.key)
    assert match, key.key
    assert match.group(1) == key.key_id
    assert set(match.group(2)) <= URLSAFE and len(match.group(2)) * 6 >= 128


def test_login_and_key_verify(shop, redis_url):
    login, key = shop

    async def check(client):
        return (await credentials.verify_login(client, login.login, login.password),
                await credentials.verify_login(client, login.login.upper(), login.password),
                await credentials.verify_login(client, login.login, login.password + "x"),
                await credentials.verify_login(client, "nobody", login.password),
                await credentials.verify_key(client, key.key),
                await credentials.verify_key(client, key.key + "x"),
                await credentials.verify_key(client, key.key[:-1]))

    assert run(redis_url, check) == ("shop", "shop", None, None, "shop", None, None)


def malformed_keys(valid: str) -> list[str]:
    key_id, secret = valid.split("_", 2)[1:]
    return [
        "",
        "tid",
        "tid_",
        "tid__",
        f"tid_{key_id}",
        f"tid_{key_id}_",
        "tid_zzzzzzzzzzzz_x",
        f"tid_{key_id.upper()}_{secret}",
        f"tid_{key_id[:-1]}_{secret}",
        f"tid_{key_id}0_{secret}",
        f"sk_{key_id}_{secret}",
        f"TID_{key_id}_{secret}",
        f" {valid}",
        f"{valid}\n",
        f"tid_{key_id}_{secret}" + "x" * 100_000,
        "tid_" + "a" * 100_000,
        f"tid_{'٠١٢٣٤٥٦٧٨٩٠١'}_{secret}",
        f"tid_{key_id}_{secret[:-1]}é",
        f"tid_{key_id}_\ud800",
        "tid_" + "0" * 12 + "_" + secret,
        "\x00" * 20,
    ]


def test_malformed_api_keys_return_none_without_raising(shop, redis_url):
    _, key = shop
    candidates = malformed_keys(key.key)

    async def check(client):
        return [await credentials.verify_key(client, candidate) for candidate in candidates]

    assert run(redis_url, check) == [None] * len(candidates)


@pytest.mark.parametrize("login", ["", " shop", "shop ", "sh op", "shop\x00", "İ", "x" * 10_000,
                                   "tidings:accounts", "shop\ud800"])
def test_malformed_logins_return_none_without_raising(shop, redis_url, login):
    account_login, _ = shop

    async def check(client):
        return await credentials.verify_login(client, login, account_login.password)

    assert run(redis_url, check) is None


def test_revoked_credentials_stop_working(shop, redis_url):
    login, key = shop

    async def check(client):
        await credentials.revoke_login(client, "shop", "SHOP")
        await credentials.revoke_key(client, "shop", key.key_id)
        return (await credentials.verify_login(client, login.login, login.password),
                await credentials.verify_key(client, key.key))

    assert run(redis_url, check) == (None, None)
