"""GET|POST /v1/suppressions and DELETE /v1/suppressions/{address}."""

from __future__ import annotations

import time

from relay import keys
from tests.api.v1 import accept, bearer


def test_add_list_and_remove(account, http, r, redis_url):
    added = http.post("/v1/suppressions", json={"address": " Bob@Example.COM "},
                      headers=bearer(account))
    assert (added.status_code, added.json()) == (201, {"address": "bob@example.com"})
    again = http.post("/v1/suppressions", json={"address": "bob@example.com"},
                      headers=bearer(account))
    assert (again.status_code, again.json()) == (200, {"address": "bob@example.com"})
    assert r.smembers(keys.suppressed(account.name)) == {"bob@example.com"}

    # Mail to any spelling of the address is now stored but not delivered.
    (message_id,) = accept(redis_url, account.name, [("BOB@example.com", time.time())])
    assert r.hget(keys.message(message_id), "status") == "suppressed"

    listed = http.get("/v1/suppressions", headers=bearer(account)).json()
    assert listed == {"items": ["bob@example.com"], "next_cursor": None}

    removed = http.delete("/v1/suppressions/BOB@example.com", headers=bearer(account))
    assert removed.status_code == 204
    assert not r.exists(keys.suppressed(account.name))
    missing = http.delete("/v1/suppressions/bob@example.com", headers=bearer(account))
    assert missing.status_code == 404
    assert missing.json() == {"error": "bob@example.com is not suppressed"}


def test_a_long_list_is_walked_with_its_cursor(account, http, r):
    addresses = {f"user{n}@example.com" for n in range(300)}
    r.sadd(keys.suppressed(account.name), *addresses)
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        body = http.get("/v1/suppressions", headers=bearer(account),
                        params={"limit": 50, **({"cursor": cursor} if cursor else {})}).json()
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert set(seen) == addresses and pages > 1


def test_invalid_input_is_422(account, http):
    for body in ({"address": "not an address"}, {"address": "a@"}, {}, {"address": 5}):
        answer = http.post("/v1/suppressions", json=body, headers=bearer(account))
        assert answer.status_code == 422, body
        assert answer.json()["error"]
    bad_cursor = http.get("/v1/suppressions", params={"cursor": "x"}, headers=bearer(account))
    assert bad_cursor.status_code == 422
