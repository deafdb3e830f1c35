"""The admin API: off without TIDINGS_ADMIN_TOKEN, locked by it, and the CLI's operations.

Against the real app under uvicorn and the real Redis; what it creates is then used the
way a customer would, over SMTP.
"""

from __future__ import annotations

import functools
import smtplib

import httpx
import pytest

from api.app import create_app
from relay import keys
from tests.api import conftest as app_fixtures
from tests.helpers.clients import message, submission

TOKEN = "admin-token-for-tests"
UNKNOWN_TZ = ("unknown timezone 'Mars/Olympus' (use an IANA name such as Europe/Berlin "
              "or UTC)")


@pytest.fixture
def serve_admin(serve_app, redis_url, monkeypatch):
    """Factory: an httpx.Client on an app started with TOKEN as its admin token."""
    monkeypatch.setattr(app_fixtures, "create_app",
                        functools.partial(create_app, admin_token=TOKEN))

    def serve() -> httpx.Client:
        return serve_app(redis_url)

    return serve


@pytest.fixture
def admin(serve_admin) -> httpx.Client:
    client = serve_admin()
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


@pytest.fixture
def shop(admin) -> dict:
    response = admin.post("/admin/v1/accounts", json={"name": "shop"})
    assert response.status_code == 201
    return response.json()


@pytest.mark.parametrize("method, path", [
    ("GET", "/admin/v1/accounts"),
    ("POST", "/admin/v1/accounts"),
    ("GET", "/admin/v1/accounts/shop"),
    ("DELETE", "/admin/v1/accounts/shop/ips/10.0.0.0%2F8"),
    ("GET", "/admin/v1/nowhere"),
])
def test_without_a_token_setting_the_admin_api_is_absent(http, method, path):
    response = http.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def test_without_a_token_setting_the_docs_do_not_list_it(http, admin):
    assert not [path for path in http.get("/openapi.json").json()["paths"]
                if path.startswith("/admin")]
    assert "/admin/v1/accounts" in admin.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer wrong-token",
    f"Bearer {TOKEN}x",
    f"Basic {TOKEN}",
    "Bearer",
    "Bearer t\u00f6ken".encode(),
])
def test_a_missing_or_wrong_token_is_401(serve_admin, authorization):
    client = serve_admin()
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in (("GET", "/admin/v1/accounts"), ("GET", "/admin/v1/accounts/nobody"),
                         ("POST", "/admin/v1/accounts")):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert set(response.json()) == {"error"}
        assert "nobody" not in response.text


def test_account_from_creation_to_revocation(admin, shop, r):
    assert set(shop) == {"account", "login", "password", "api_key", "api_key_id"}
    assert shop["account"] == "shop" and shop["login"] == "shop"
    assert shop["api_key"].startswith(f"tid_{shop['api_key_id']}_")
    assert admin.get("/admin/v1/accounts").json() == {"accounts": ["shop"]}

    base = "/admin/v1/accounts/shop"
    added = admin.post(f"{base}/senders", json={"address": "News@Shop.Example"})
    assert added.status_code == 201 and added.json() == {"sender": "news@shop.example"}
    allowed = admin.post(f"{base}/ips", json={"cidr": "203.0.113.7/24"})
    assert allowed.status_code == 201 and allowed.json() == {"ip": "203.0.113.0/24"}
    assert admin.post(f"{base}/ips", json={"cidr": "2001:db8::1"}).json() == \
        {"ip": "2001:db8::1/128"}
    changed = admin.patch(base, json={"rate": 120, "unsubscribe": "require",
                                      "track_clicks": False, "timezone": "Europe/Berlin"})
    assert changed.status_code == 200
    assert changed.json() == admin.get(base).json() == {
        "name": "shop", "timezone": "Europe/Berlin", "rate": 120, "unsubscribe": "require",
        "track_opens": True, "track_clicks": False, "senders": ["news@shop.example"],
        "ips": ["2001:db8::1/128", "203.0.113.0/24"], "logins": ["shop"],
        "api_keys": [shop["api_key_id"]]}
    assert shop["password"] not in admin.get(base).text
    assert admin.get(f"{base}/senders").json() == {"senders": ["news@shop.example"]}

    login = admin.post(f"{base}/logins", json={"login": "crm"})
    generated = admin.post(f"{base}/logins")
    key = admin.post(f"{base}/keys")
    assert login.status_code == generated.status_code == key.status_code == 201
    assert login.json()["login"] == "crm" and login.json()["password"]
    assert generated.json()["login"].startswith("shop-")
    assert login.headers["cache-control"] == "no-store"
    assert sorted(admin.get(base).json()["logins"]) == \
        sorted(["crm", "shop", generated.json()["login"]])

    for path in (f"{base}/logins/crm", f"{base}/keys/{key.json()['key_id']}",
                 f"{base}/senders/news@shop.example", f"{base}/ips/203.0.113.0%2F24",
                 f"{base}/ips/2001:db8::1/128"):
        assert admin.delete(path).status_code == 204, path
    after = admin.get(base).json()
    assert after["ips"] == [] and after["senders"] == []
    assert "crm" not in after["logins"] and after["api_keys"] == [shop["api_key_id"]]
    assert not r.exists(keys.login("crm"))


@pytest.mark.parametrize("method, path, body, error", [
    ("POST", "/admin/v1/accounts", {"name": "tz", "timezone": "Mars/Olympus"}, UNKNOWN_TZ),
    ("PATCH", "/admin/v1/accounts/shop", {"timezone": "Mars/Olympus"}, UNKNOWN_TZ),
    ("PATCH", "/admin/v1/accounts/shop", {"rate": -1},
     "--rate must be 0 (no limit) or a positive number per minute"),
    ("PATCH", "/admin/v1/accounts/shop", {"unsubscribe": "sometimes"},
     "--unsubscribe must be inject, require or off"),
    ("POST", "/admin/v1/accounts", {"name": "shop"}, "account shop already exists"),
    ("POST", "/admin/v1/accounts", {"name": "Not A Name"},
     "invalid account name 'Not A Name': use letters, digits, '.', '_' or '-', starting "
     "with a letter or digit, at most 63 characters"),
    ("POST", "/admin/v1/accounts/shop/ips", {"cidr": "10.0.0.0/33"}, None),
    ("POST", "/admin/v1/accounts/shop/senders", {"address": "no-at-sign"},
     "Invalid sender 'no-at-sign': no @; expected user@domain or @domain"),
    ("POST", "/admin/v1/accounts/shop/logins", {"login": "shop"}, "login shop is already taken"),
    ("DELETE", "/admin/v1/accounts/shop/senders/@elsewhere.example", None,
     "@elsewhere.example is not a sender of shop"),
    ("DELETE", "/admin/v1/accounts/shop/logins/someone", None,
     "someone is not a login of shop"),
    ("DELETE", "/admin/v1/accounts/shop/keys/0123456789ab", None,
     "0123456789ab is not an API key of shop"),
])
def test_refusals_are_422_with_the_cli_message(admin, shop, method, path, body, error):
    response = admin.request(method, path, json=body)
    assert response.status_code == 422
    if error is not None:
        assert response.json() == {"error": error}
    else:
        assert set(response.json()) == {"error"}


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/admin/v1/accounts/nobody", None),
    ("PATCH", "/admin/v1/accounts/nobody", {"rate": 5}),
    ("GET", "/admin/v1/accounts/nobody/senders", None),
    ("POST", "/admin/v1/accounts/nobody/ips", {"cidr": "10.0.0.1"}),
    ("POST", "/admin/v1/accounts/nobody/logins", None),
    ("POST", "/admin/v1/accounts/nobody/keys", None),
    ("DELETE", "/admin/v1/accounts/nobody/keys/0123456789ab", None),
])
def test_an_unknown_account_is_404(admin, method, path, body):
    response = admin.request(method, path, json=body)
    assert response.status_code == 404
    assert response.json() == {"error": "no account named nobody"}


def test_a_misspelt_field_is_refused_not_ignored(admin, shop):
    response = admin.patch("/admin/v1/accounts/shop", json={"track_open": False})
    assert response.status_code == 422 and "track_open" in response.json()["error"]


def test_a_login_made_over_http_submits_mail_until_revoked(admin, shop, start_server):
    base = "/admin/v1/accounts/shop"
    admin.post(f"{base}/senders", json={"address": "@shop.example"})
    made = admin.post(f"{base}/logins", json={"login": "crm"}).json()
    server = start_server()
    with submission(server.smtp_port, made["login"], made["password"]) as client:
        refused = client.sendmail("news@shop.example", ["alice@example.com"], message())
    assert refused == {}

    assert admin.delete(f"{base}/logins/crm").status_code == 204
    with submission(server.smtp_port) as client, \
            pytest.raises(smtplib.SMTPAuthenticationError):
        client.login(made["login"], made["password"])
