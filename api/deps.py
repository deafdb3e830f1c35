"""Named dependencies of the route handlers, read from ``app.state`` where `create_app` put them.

Invariant: handlers never reach for globals; everything they use arrives as a typed
parameter, so the same app code runs against any Redis and key the composition root gives.
"""

from __future__ import annotations

from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request


def get_redis(request: Request) -> aioredis.Redis:
    return request.app.state.redis


def get_key(request: Request) -> bytes:
    return request.app.state.key


#: The app's Redis client (binary-safe), bound to the loop that serves the app.
RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]
#: The key tracking tokens are signed with (TIDINGS_SECRET or the generated one).
KeyDep = Annotated[bytes, Depends(get_key)]
