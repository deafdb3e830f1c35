"""`tidings account ...` (SPEC.md section 3), driven through the real command line in-process.

Every command runs `relay.cli.main` against the test Redis, exactly as an operator types it;
what it stored is checked through `show --json` and through the credential checks the SMTP
and HTTP front ends use (`verify_login`, `verify_key`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass

import pytest

from relay import cli
from relay.redis_client import redis_client
from relay.store import credentials


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def tidings(monkeypatch, capsys, redis_url, tmp_path):
    """Run `tidings ARGS...` in-process; returns exit code, stdout and stderr."""
    for name in [name for name in os.environ if name.startswith("TIDINGS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TIDINGS_REDIS_URL", redis_url)
    monkeypatch.setenv("TIDINGS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TIDINGS_HOSTNAME", "tidings.test")

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:  # argparse usage errors
            code = exit_.code
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def created(tidings) -> dict:
    """`tidings account create shop --json`: the one-time secrets of a fresh account."""
    result = tidings("account", "create", "shop", "--json")
    assert result.code == 0, result.err
    return result.json


def verify_login(redis_url: str, login: str, password: str) -> str | None:
    async def check():
        client = redis_client(redis_url, timeout=5)
        try:
            return await credentials.verify_login(client, login, password)
        finally:
            await client.aclose()

    return asyncio.run(check())


def verify_key(redis_url: str, key: str) -> str | None:
    async def check():
        client = redis_client(redis_url, timeout=5)
        try:
            return await credentials.verify_key(client, key)
        finally:
            await client.aclose()

    return asyncio.run(check())


def assert_one_line_error(result: Result) -> None:
    assert result.code == 1, result
    assert result.out == ""
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("tidings: ")


def show(tidings, name: str = "shop") -> dict:
    result = tidings("account", "show", name, "--json")
    assert result.code == 0, result.err
    return result.json


# --- create ---------------------------------------------------------------------------------


def test_create_text_prints_host_ports_and_working_secrets(tidings, redis_url):
    result = tidings("account", "create", "shop", "--timezone", "Europe/Berlin")

    assert result.code == 0, result.err
    assert "tidings.test" in result.out
    assert "587" in result.out and "465" in result.out
    login = re.search(r"^\s*login\s+(\S+)\s*$", result.out, re.M).group(1)
    password = re.search(r"^\s*password\s+(\S+)\s*$", result.out, re.M).group(1)
    api_key = re.search(r"^\s*API key\s+(\S+)\s*$", result.out, re.M).group(1)
    assert verify_login(redis_url, login, password) == "shop"
    assert verify_key(redis_url, api_key) == "shop"
    assert show(tidings)["timezone"] == "Europe/Berlin"


def test_create_json_has_login_password_and_api_key(created, redis_url, tidings):
    assert {"login", "password", "api_key"} <= created.keys()
    assert verify_login(redis_url, created["login"], created["password"]) == "shop"
    assert verify_key(redis_url, created["api_key"]) == "shop"
    assert show(tidings)["timezone"] == "UTC"


def test_create_normalises_the_name(tidings):
    assert tidings("account", "create", "Shop").code == 0
    assert tidings("account", "list", "--json").json == ["shop"]


def test_duplicate_create_is_refused_and_keeps_the_first_credentials(created, tidings,
                                                                     redis_url):
    for name in ("shop", "SHOP"):
        assert_one_line_error(tidings("account", "create", name))
    assert verify_login(redis_url, created["login"], created["password"]) == "shop"
    assert verify_key(redis_url, created["api_key"]) == "shop"


@pytest.mark.parametrize("name", ["bad name", "a:b", "_leading", "x" * 64, "ümlaut"])
def test_invalid_account_name_is_refused(tidings, name):
    assert_one_line_error(tidings("account", "create", name))
    assert tidings("account", "list", "--json").json == []


@pytest.mark.parametrize("tz", ["Mars/Olympus", "Europe", "", "../etc/passwd", "UTC "])
def test_unknown_timezone_is_refused_on_create_and_set(tidings, tz):
    assert_one_line_error(tidings("account", "create", "shop", "--timezone", tz))
    assert tidings("account", "list", "--json").json == []
    assert tidings("account", "create", "shop").code == 0
    assert_one_line_error(tidings("account", "set", "shop", "--timezone", tz))
    assert show(tidings)["timezone"] == "UTC"


def test_create_when_a_login_of_that_name_exists_is_all_or_nothing(created, tidings, redis_url):
    assert tidings("account", "login", "create", "shop", "blog").code == 0

    result = tidings("account", "create", "blog", "--json")

    if result.code == 0:  # it picked another login: it must work
        assert verify_login(redis_url, result.json["login"], result.json["password"]) == "blog"
        assert verify_key(redis_url, result.json["api_key"]) == "blog"
    else:  # or it refused: then nothing may be left behind
        assert_one_line_error(result)
        assert tidings("account", "list", "--json").json == ["shop"]


# --- list / show ----------------------------------------------------------------------------


def test_list_text_and_json(tidings):
    assert tidings("account", "list", "--json").json == []
    for name in ("zeta", "alpha"):
        assert tidings("account", "create", name).code == 0

    assert tidings("account", "list", "--json").json == ["alpha", "zeta"]
    assert tidings("account", "list").out.split() == ["alpha", "zeta"]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_show_never_reveals_a_secret_or_a_hash(created, tidings, as_json):
    login = tidings("account", "login", "create", "shop", "--json").json
    key = tidings("account", "key", "create", "shop", "--json").json
    result = tidings("account", "show", "shop", *(["--json"] if as_json else []))

    assert result.code == 0
    secrets = [created["password"], created["api_key"], login["password"], key["api_key"]]
    secrets += [k.split("_", 2)[2] for k in (created["api_key"], key["api_key"])]
    for secret in secrets:
        assert secret not in result.out
    assert "hmac-sha256" not in result.out
    assert created["login"] in result.out and login["login"] in result.out
    assert created["api_key_id"] in result.out and key["key_id"] in result.out


def test_show_defaults(created, tidings):
    info = show(tidings)
    assert info["name"] == "shop"
    assert (info["timezone"], info["rate"], info["unsubscribe"]) == ("UTC", 0, "inject")
    assert info["track_opens"] is True and info["track_clicks"] is True
    assert info["senders"] == [] and info["ips"] == []
    assert info["logins"] == [created["login"]]


# --- set ------------------------------------------------------------------------------------


def test_set_changes_every_rule(created, tidings):
    result = tidings("account", "set", "shop", "--timezone", "America/New_York", "--rate", "120",
                     "--unsubscribe", "require", "--track-opens", "off", "--track-clicks", "off")
    assert result.code == 0, result.err

    info = show(tidings)
    assert info["timezone"] == "America/New_York"
    assert info["rate"] == 120
    assert info["unsubscribe"] == "require"
    assert info["track_opens"] is False and info["track_clicks"] is False


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [
        (["--rate", "0"], "rate", 0),
        (["--rate", "30"], "rate", 30),
        (["--unsubscribe", "off"], "unsubscribe", "off"),
        (["--unsubscribe", "inject"], "unsubscribe", "inject"),
        (["--track-opens", "off"], "track_opens", False),
        (["--track-clicks", "off"], "track_clicks", False),
        (["--timezone", "Asia/Tokyo"], "timezone", "Asia/Tokyo"),
    ],
)
def test_set_changes_only_the_rule_given(created, tidings, args, field, value):
    tidings("account", "set", "shop", "--rate", "7", "--unsubscribe", "require")
    before = show(tidings)

    assert tidings("account", "set", "shop", *args).code == 0

    after = show(tidings)
    assert after[field] == value
    assert {k: v for k, v in after.items() if k != field} == \
        {k: v for k, v in before.items() if k != field}


def test_set_switches_back_on(created, tidings):
    tidings("account", "set", "shop", "--track-opens", "off", "--track-clicks", "off")
    tidings("account", "set", "shop", "--track-opens", "on", "--track-clicks", "on")
    info = show(tidings)
    assert info["track_opens"] is True and info["track_clicks"] is True


def test_negative_rate_is_refused(created, tidings):
    assert_one_line_error(tidings("account", "set", "shop", "--rate", "-1"))
    assert show(tidings)["rate"] == 0


@pytest.mark.parametrize("args", [["--unsubscribe", "maybe"], ["--track-opens", "yes"],
                                  ["--track-clicks", "1"], ["--rate", "fast"]])
def test_set_refuses_values_outside_the_syntax(created, tidings, args):
    before = show(tidings)
    result = tidings("account", "set", "shop", *args)
    assert result.code != 0
    assert "Traceback" not in result.err
    assert args[0] in result.err
    assert show(tidings) == before


# --- senders --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("news@shop.example", "news@shop.example"),
        ("News@Shop.EXAMPLE", "news@shop.example"),
        ("@shop.example", "@shop.example"),
        ("@Mail.Shop.Example", "@mail.shop.example"),
    ],
)
def test_sender_add_list_remove(created, tidings, given, stored):
    added = tidings("account", "sender", "add", "shop", given, "--json")
    assert added.code == 0, added.err
    assert stored in added.out
    assert tidings("account", "sender", "list", "shop", "--json").json == [stored]
    assert tidings("account", "sender", "list", "shop").out.split() == [stored]
    assert show(tidings)["senders"] == [stored]

    assert tidings("account", "sender", "remove", "shop", given.upper()).code == 0
    assert tidings("account", "sender", "list", "shop", "--json").json == []


def test_sender_add_twice_keeps_one_entry(created, tidings):
    tidings("account", "sender", "add", "shop", "a@shop.example")
    tidings("account", "sender", "add", "shop", "A@shop.example")
    tidings("account", "sender", "add", "shop", "@shop.example")
    assert tidings("account", "sender", "list", "shop", "--json").json == \
        ["@shop.example", "a@shop.example"]


@pytest.mark.parametrize("address", ["", "shop.example", "@", "user@", "a b@shop.example",
                                     "@shop.example.", "user@@shop.example", "@-bad-.example",
                                     "user@shop.example\n"])
def test_invalid_sender_is_refused(created, tidings, address):
    assert_one_line_error(tidings("account", "sender", "add", "shop", address))
    assert tidings("account", "sender", "list", "shop", "--json").json == []


def test_removing_an_unknown_sender_is_refused(created, tidings):
    assert_one_line_error(tidings("account", "sender", "remove", "shop", "x@shop.example"))


# --- IP allowlist ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("192.0.2.7", "192.0.2.7/32"),
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("2001:DB8::1", "2001:db8::1/128"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:db8:0:0::/64", "2001:db8::/64"),
    ],
)
def test_ip_allow_list_deny(created, tidings, given, stored):
    allowed = tidings("account", "ip", "allow", "shop", given, "--json")
    assert allowed.code == 0, allowed.err
    assert stored in allowed.out
    assert tidings("account", "ip", "list", "shop", "--json").json == [stored]
    assert tidings("account", "ip", "list", "shop").out.split() == [stored]
    assert show(tidings)["ips"] == [stored]

    assert tidings("account", "ip", "deny", "shop", given).code == 0
    assert tidings("account", "ip", "list", "shop", "--json").json == []


@pytest.mark.parametrize("cidr", ["300.1.1.1", "10.0.0.0/33", "10.0.0.0/255.0.0.0",
                                  "2001:db8::/129", "fe80::1%eth0", "shop.example", "",
                                  "10.0.0.0/"])
def test_invalid_cidr_is_refused(created, tidings, cidr):
    assert_one_line_error(tidings("account", "ip", "allow", "shop", cidr))
    assert tidings("account", "ip", "list", "shop", "--json").json == []


def test_denying_an_address_not_listed_is_refused(created, tidings):
    tidings("account", "ip", "allow", "shop", "192.0.2.0/24")
    assert_one_line_error(tidings("account", "ip", "deny", "shop", "192.0.2.7"))
    assert tidings("account", "ip", "list", "shop", "--json").json == ["192.0.2.0/24"]


# --- logins ---------------------------------------------------------------------------------


def test_login_create_and_revoke(created, tidings, redis_url):
    named = tidings("account", "login", "create", "shop", "Crm.Shop", "--json")
    generated = tidings("account", "login", "create", "shop")
    assert named.code == 0 and generated.code == 0
    assert named.json["login"] == "crm.shop"
    gen_login = re.search(r"^login\s+(\S+)$", generated.out, re.M).group(1)
    gen_password = re.search(r"^password\s+(\S+)$", generated.out, re.M).group(1)
    assert verify_login(redis_url, "crm.shop", named.json["password"]) == "shop"
    assert verify_login(redis_url, gen_login, gen_password) == "shop"
    assert verify_login(redis_url, "crm.shop", gen_password) is None

    revoked = tidings("account", "login", "revoke", "shop", "crm.shop")

    assert revoked.code == 0, revoked.err
    assert verify_login(redis_url, "crm.shop", named.json["password"]) is None
    assert verify_login(redis_url, gen_login, gen_password) == "shop"
    assert verify_login(redis_url, created["login"], created["password"]) == "shop"
    assert "crm.shop" not in show(tidings)["logins"]


def test_login_is_unique_across_accounts(created, tidings, redis_url):
    assert tidings("account", "create", "blog").code == 0
    assert_one_line_error(tidings("account", "login", "create", "blog", created["login"]))
    assert verify_login(redis_url, created["login"], created["password"]) == "shop"


def test_login_of_another_account_cannot_be_revoked(created, tidings, redis_url):
    assert tidings("account", "create", "blog").code == 0
    assert_one_line_error(tidings("account", "login", "revoke", "blog", created["login"]))
    assert_one_line_error(tidings("account", "login", "revoke", "shop", "nobody"))
    assert verify_login(redis_url, created["login"], created["password"]) == "shop"


@pytest.mark.parametrize("login", ["with space", "_under", "x" * 65, "a:b", "ü"])
def test_invalid_login_name_is_refused(created, tidings, login):
    assert_one_line_error(tidings("account", "login", "create", "shop", login))
    assert show(tidings)["logins"] == [created["login"]]


# --- API keys -------------------------------------------------------------------------------


def test_key_create_and_revoke(created, tidings, redis_url):
    made = tidings("account", "key", "create", "shop", "--json")
    assert made.code == 0
    key, key_id = made.json["api_key"], made.json["key_id"]
    assert re.fullmatch(rf"tid_{key_id}_\S+", key)
    assert verify_key(redis_url, key) == "shop"
    assert key_id in show(tidings)["api_keys"]

    assert tidings("account", "key", "revoke", "shop", key_id).code == 0

    assert verify_key(redis_url, key) is None
    assert key_id not in show(tidings)["api_keys"]
    assert verify_key(redis_url, created["api_key"]) == "shop"


def test_key_text_output_shows_the_key_once(created, tidings, redis_url):
    made = tidings("account", "key", "create", "shop")
    key = re.search(r"^API key\s+(\S+)$", made.out, re.M).group(1)
    assert verify_key(redis_url, key) == "shop"


def test_key_of_another_account_cannot_be_revoked(created, tidings, redis_url):
    assert tidings("account", "create", "blog").code == 0
    assert_one_line_error(tidings("account", "key", "revoke", "blog", created["api_key_id"]))
    assert_one_line_error(tidings("account", "key", "revoke", "shop", "0" * 12))
    assert verify_key(redis_url, created["api_key"]) == "shop"


# --- errors common to every command ---------------------------------------------------------

ON_UNKNOWN_ACCOUNT = [
    ["show", "nope"],
    ["set", "nope", "--rate", "5"],
    ["sender", "add", "nope", "a@shop.example"],
    ["sender", "remove", "nope", "a@shop.example"],
    ["sender", "list", "nope"],
    ["ip", "allow", "nope", "192.0.2.1"],
    ["ip", "deny", "nope", "192.0.2.1"],
    ["ip", "list", "nope"],
    ["login", "create", "nope"],
    ["login", "create", "nope", "someone"],
    ["login", "revoke", "nope", "someone"],
    ["key", "create", "nope"],
    ["key", "revoke", "nope", "0123456789ab"],
]


@pytest.mark.parametrize("args", ON_UNKNOWN_ACCOUNT, ids=" ".join)
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_unknown_account_is_one_line_and_exit_1(created, tidings, args, as_json):
    result = tidings("account", *args, *(["--json"] if as_json else []))
    assert_one_line_error(result)
    assert "nope" in result.err
    assert tidings("account", "list", "--json").json == ["shop"]


def test_unreachable_redis_is_one_line(tidings, monkeypatch, tmp_path):
    monkeypatch.setenv("TIDINGS_REDIS_URL", f"unix://{tmp_path}/no-such.sock")
    result = tidings("account", "list")
    assert_one_line_error(result)
    assert "TIDINGS_REDIS_URL" in result.err


# --- every command takes --json ---------------------------------------------------------------

EVERY_COMMAND = [
    ["create", "blog", "--timezone", "Europe/Berlin"],
    ["list"],
    ["show", "shop"],
    ["set", "shop", "--rate", "10", "--unsubscribe", "off"],
    ["sender", "add", "shop", "news@shop.example"],
    ["sender", "remove", "shop", "@shop.example"],
    ["sender", "list", "shop"],
    ["ip", "allow", "shop", "2001:db8::/48"],
    ["ip", "deny", "shop", "192.0.2.1"],
    ["ip", "list", "shop"],
    ["login", "create", "shop"],
    ["login", "create", "shop", "second"],
    ["login", "revoke", "shop", "{login}"],
    ["key", "create", "shop"],
    ["key", "revoke", "shop", "{key_id}"],
]


@pytest.mark.parametrize("args", EVERY_COMMAND, ids=lambda args: " ".join(args[:2]))
def test_every_command_takes_json(created, tidings, args):
    assert tidings("account", "sender", "add", "shop", "@shop.example").code == 0
    assert tidings("account", "ip", "allow", "shop", "192.0.2.1").code == 0
    args = [arg.format(login=created["login"], key_id=created["api_key_id"]) for arg in args]

    result = tidings("account", *args, "--json")

    assert result.code == 0, result.err
    assert result.err == ""
    data = json.loads(result.out)
    assert data not in (None, "")
