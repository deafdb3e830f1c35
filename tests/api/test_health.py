"""/healthz answers while the process serves; /readyz follows Redis."""

from __future__ import annotations


def test_healthz(http):
    response = http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_with_redis(http):
    response = http.get("/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_without_redis_is_503(serve_app, tmp_path):
    client = serve_app(f"unix://{tmp_path}/no-redis.sock")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["error"].startswith("Redis did not answer PING")
    assert str(tmp_path) not in body["error"]
    assert client.get("/healthz").status_code == 200


def test_tracking_without_redis_is_json_503_without_internals(serve_app, tmp_path):
    client = serve_app(f"unix://{tmp_path}/no-redis.sock")
    from relay import tokens
    from tests.api.conftest import KEY

    token = tokens.sign(KEY, tokens.TokenKind.CLICK, "0" * 26, 0)
    response = client.get(f"/t/c/{token}")
    assert response.status_code == 503
    assert response.json() == {"error": "service temporarily unavailable"}
    assert "location" not in response.headers


def test_unknown_paths_are_json_errors(http):
    response = http.get("/nowhere")
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}
    response = http.delete("/t/o/whatever")
    assert response.status_code == 405 and "error" in response.json()
