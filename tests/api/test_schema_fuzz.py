"""Property-based fuzzing of every documented operation with schemathesis.

The real app under uvicorn, with the admin token set so the admin API is in the schema,
serves its own /openapi.json; schemathesis reads it over HTTP and sends generated requests
to the same server. Each operation gets a fresh Redis holding one account with a few
messages, and the account's API key (or the admin token on /admin paths) authenticates.

Checked: no response is a 500, every status is one the document lists for the
operation (the error answers 401/404/422/503 are declared per router in api/app.py), and
each response's content type and body match what the document says for it. A few
well-formed requests per operation go first and must succeed, since generated ones are
mostly refused and would leave the success bodies unchecked.

Bounded and repeatable: few examples per operation, derandomized, no example database.
"""

from __future__ import annotations

import functools
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from relay import keys
from tests.api import conftest as app_fixtures
from tests.api.v1 import accept

ADMIN_TOKEN = "admin-token-for-schema-fuzz"
CHECKS = (not_a_server_error, content_type_conformance, response_schema_conformance,
          status_code_conformance)


@pytest.fixture
def fuzz_target(serve_app, redis_url, make_account, r, monkeypatch):
    """The app with the admin API, and an account with messages: the schema URL, and what
    well-formed requests need (API key, a message id, the account's login and key id)."""
    monkeypatch.setattr(app_fixtures, "create_app",
                        functools.partial(create_app, admin_token=ADMIN_TOKEN))
    account = make_account("shop")
    now = time.time()
    ids = accept(redis_url, account.name, [("alice@example.test", now - 3600),
                                           ("bob@example.test", now - 600),
                                           ("carol@example.test", now - 60)])
    r.hset(keys.message(ids[0]), mapping={"status": "delivered",
                                          "delivered_at": repr(now - 3500)})
    http = serve_app(redis_url)
    return {"schema_url": f"{http.base_url}/openapi.json", "api_key": account.api_key,
            "message_id": ids[0], "login": account.login,
            "key_id": account.api_key.split("_")[1]}


#: Per operation, requests the app must accept (random ones are mostly refused with a 422
#: or 404), so the success responses are checked against the document too. "{...}" values
#: are filled from the fixture.
WELL_FORMED: dict[tuple[str, str], list[dict]] = {
    ("GET", "/v1/messages/{message_id}"): [{"path_parameters": {"message_id": "{message_id}"}}],
    ("GET", "/v1/messages"): [{"query": {"status": "delivered", "limit": 2}}],
    ("POST", "/v1/suppressions"): [{"body": {"address": "alice@example.test"}}],
    ("GET", "/admin/v1/accounts/{name}"): [{"path_parameters": {"name": "shop"}}],
    ("POST", "/admin/v1/accounts"): [{"body": {"name": "news", "timezone": "Europe/Berlin"}}],
    ("PATCH", "/admin/v1/accounts/{name}"): [
        {"path_parameters": {"name": "shop"}, "body": {"rate": 60, "track_opens": True}}],
    ("GET", "/admin/v1/accounts/{name}/senders"): [{"path_parameters": {"name": "shop"}}],
    ("POST", "/admin/v1/accounts/{name}/senders"): [
        {"path_parameters": {"name": "shop"}, "body": {"address": "@news.shop.example"}}],
    ("DELETE", "/admin/v1/accounts/{name}/senders/{address}"): [
        {"path_parameters": {"name": "shop", "address": "@shop.example"}}],
    ("GET", "/admin/v1/accounts/{name}/ips"): [{"path_parameters": {"name": "shop"}}],
    ("POST", "/admin/v1/accounts/{name}/ips"): [
        {"path_parameters": {"name": "shop"}, "body": {"cidr": "10.0.0.0/8"}}],
    ("POST", "/admin/v1/accounts/{name}/logins"): [
        {"path_parameters": {"name": "shop"}, "body": {"login": "shop-2"}}],
    ("DELETE", "/admin/v1/accounts/{name}/logins/{login}"): [
        {"path_parameters": {"name": "shop", "login": "{login}"}}],
    ("POST", "/admin/v1/accounts/{name}/keys"): [{"path_parameters": {"name": "shop"}}],
    ("DELETE", "/admin/v1/accounts/{name}/keys/{key_id}"): [
        {"path_parameters": {"name": "shop", "key_id": "{key_id}"}}],
}


def filled(value, values: dict):
    if isinstance(value, dict):
        return {name: filled(item, values) for name, item in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return values[value[1:-1]]
    return value


def documented_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation the app documents with the admin API on; the
    document is built without a Redis, it only names the operations to parametrize over."""
    document = create_app(redis=None, key=b"k", public_url=app_fixtures.PUBLIC_URL,
                          admin_token=ADMIN_TOKEN).openapi()
    return [(method.upper(), path) for path, operations in document["paths"].items()
            for method in operations]


@pytest.mark.parametrize("method, path", documented_operations(),
                         ids=[f"{m} {p}" for m, p in documented_operations()])
def test_no_operation_fails_or_breaks_its_schema(fuzz_target, method, path):
    operation = schemathesis.openapi.from_url(fuzz_target["schema_url"])[path][method]
    token = ADMIN_TOKEN if path.startswith("/admin") else fuzz_target["api_key"]
    auth = {"Authorization": f"Bearer {token}"}

    for request in WELL_FORMED.get((method, path), []):
        response = operation.Case(**filled(request, fuzz_target)).call_and_validate(
            headers=auth, checks=CHECKS, timeout=10)
        assert 200 <= response.status_code < 300, (request, response.text)

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=2000, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    def fuzz(case) -> None:
        case.call_and_validate(headers=auth, checks=CHECKS, timeout=10)

    fuzz()
