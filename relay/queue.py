"""The delivery queue: a Redis stream of accepted message ids, consumed by a consumer group.

Invariant: an id is added in the same MULTI that stores its message, and the SMTP front
end answers 250 only after that MULTI has returned, i.e. (with appendfsync always) after
it is on disk. The stream is never trimmed by the writer: an entry leaves only when a
worker acknowledges it, so nothing accepted can be lost to a cap.
"""

from __future__ import annotations

from redis.asyncio.client import Pipeline

from relay import keys


def enqueue(pipe: Pipeline, message_id: str) -> None:
    pipe.xadd(keys.QUEUE, {"id": message_id})
