"""The HTTP service's application, built by a factory from plain values.

Invariant: every failure leaves as JSON ``{"error": "..."}`` with a status that says what
went wrong, through the one handler below; no traceback, exception text from a library
or server internals ever reaches a client (the traceback goes to the log instead).
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis import RedisError
from starlette.exceptions import HTTPException

from api.routes import admin, health, logs, messages, metrics, stats, suppressions, tracking

log = logging.getLogger(__name__)

#: What Redis being away looks like: redis-py's errors, the socket's, asyncio's timeout.
_UNAVAILABLE = (RedisError, OSError, TimeoutError)


def create_app(*, redis: aioredis.Redis, key: bytes, public_url: str,
               admin_token: str | None = None) -> FastAPI:
    """The app over `redis`, which the caller owns, opens and closes.

    `redis` must be a binary-safe client (``decode_responses=False``) used only on the
    loop that serves the app: redis-py opens its connections on the loop of first use.

    Without `admin_token` (TIDINGS_ADMIN_TOKEN) the admin API is absent, not just locked:
    every /admin path is a 404 and the OpenAPI document does not list it.
    """
    app = FastAPI(title="Tidings", summary="Transactional email relay")
    app.state.redis = redis
    app.state.key = key
    app.state.public_url = public_url.rstrip("/")
    app.state.metrics = metrics.Metrics()
    for kind in (HTTPException, RequestValidationError, *_UNAVAILABLE, Exception):
        app.add_exception_handler(kind, handle_error)
    app.include_router(tracking.router, responses=_errors(422, 503))
    app.include_router(health.router, responses=_errors(503))
    app.include_router(metrics.router, responses=_errors(503))
    for router in (stats.router, messages.router, logs.router, suppressions.router):
        app.include_router(router, responses=_errors(401, 404, 422, 503))
    app.state.admin_token = admin_token or None
    if app.state.admin_token:
        app.include_router(admin.router, responses=_errors(401, 404, 422, 503))
    return app


class ErrorOut(BaseModel):
    """Every error the service answers, whatever its status."""

    error: str


_MEANING = {401: "Missing, unknown or revoked credentials",
            404: "No such resource for this account",
            422: "The request is not valid: which field and why",
            503: "Redis is unreachable; retry after the Retry-After seconds"}


def _errors(*codes: int) -> dict:
    """The error answers of a router, documented in OpenAPI with their real body."""
    return {code: {"model": ErrorOut, "description": _MEANING[code]} for code in codes}


async def handle_error(request: Request, exc: Exception) -> JSONResponse:
    """The one translation of exceptions into responses."""
    if isinstance(exc, HTTPException):
        # Starlette's own texts ("Not Found", "Method Not Allowed") and ours: safe to show.
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code,
                            headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(_describe(error) for error in exc.errors())
        return JSONResponse({"error": problems or "invalid request"}, status_code=422)
    if isinstance(exc, _UNAVAILABLE):
        log.warning("Redis unavailable for %s %s: %r", request.method, request.url.path, exc)
        return JSONResponse({"error": "service temporarily unavailable"}, status_code=503,
                            headers={"Retry-After": "5"})
    log.error("unexpected error for %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "internal server error"}, status_code=500)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))
