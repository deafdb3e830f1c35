"""Liveness and readiness probes for orchestrators and load balancers.

Invariant: ``/healthz`` answers whenever the process serves HTTP and touches nothing
else, so a Redis outage never gets healthy processes restarted; ``/readyz`` is 200 only
while Redis answers PING within READY_TIMEOUT, so traffic moves away when it does not.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis import RedisError

from api.deps import RedisDep

router = APIRouter(tags=["health"])

#: Seconds PING may take before the process counts as not ready.
READY_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(r: RedisDep) -> JSONResponse:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await r.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        # The exception's class only: its text can carry socket paths and host names.
        return JSONResponse({"status": "unavailable",
                             "error": f"Redis did not answer PING ({type(exc).__name__})"},
                            status_code=503)
    return JSONResponse({"status": "ok"})
