"""The delivery worker: consume the queue through a consumer group, run attempts, ack.

Invariants (DESIGN.md principle 6):
- at least once: an entry is acked only in the same script that records its outcome;
  an entry held by a dead worker is taken over (XAUTOCLAIM) once it has been idle for
  `takeover` seconds;
- a live worker renews its claims every quarter of `takeover`, so a slow delivery is
  never taken over while it runs; a claim found lost is not sent by its first owner;
- a message already finished (delivered, bounced) is only acked when met again;
- on stop, running deliveries get STOP_GRACE seconds; those cut off stay pending.
The windows that cannot be closed are in docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from relay import keys
from relay.delivery import ledger
from relay.delivery.attempt import Attempt, ClaimLost
from relay.delivery.pacing import SubmissionPacer
from relay.redis_client import REDIS_FAILURES, text

log = logging.getLogger(__name__)

#: Seconds between looking for due retries and for entries of dead workers.
HOUSEKEEPING_INTERVAL = 1.0
#: Consumers with nothing pending and idle this long are removed from the group.
STALE_CONSUMER_MS = 24 * 3600 * 1000
#: Seconds between looks for such consumers.
PRUNE_INTERVAL = 600.0
#: Seconds a stopping worker gives its running deliveries before cancelling them; a
#: cancelled one stays pending and is taken over by another worker.
STOP_GRACE = 30.0


def consumer_name() -> str:
    """Unique per process, readable in XINFO: host, pid and a few random characters."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class Worker:
    def __init__(self, r: aioredis.Redis, attempt: Attempt, *, concurrency: int,
                 takeover: float, retention: float, copy_retention: float,
                 group: str = keys.QUEUE_GROUP, consumer: str | None = None,
                 clock=time.time, hot=None, pacer: SubmissionPacer | None = None) -> None:
        self.r = r
        #: For the commands of every message (load, suppression, finish): a
        #: relay.redis_client.hot_client in production, `r` otherwise.
        self.hot = hot or r
        self.attempt = attempt
        self.concurrency = concurrency
        #: Beside submission: delays new deliveries while submission is busy.
        self.pacer = pacer
        self.takeover = takeover
        self.retention = retention
        self.copy_retention = copy_retention
        self.group = group
        self.consumer = consumer or consumer_name()
        self.clock = clock
        #: Entry id -> its task, for every delivery this worker runs.
        self.inflight: dict[str, asyncio.Task] = {}
        self._lost: set[str] = set()
        self._next_prune = 0.0

    async def ensure_group(self) -> None:
        # From the start of the stream: messages accepted before any worker ran are due too.
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await self.r.xgroup_create(keys.QUEUE, self.group, id="0", mkstream=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, then let the running deliveries finish."""
        await self.ensure_group()
        renewer = asyncio.create_task(self._renew_forever())
        next_housekeeping = 0.0
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_housekeeping:
                        next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL
                        await self.housekeeping()
                    await self._read(block_ms=1000)
                except REDIS_FAILURES as error:
                    log.warning("Redis unavailable, retrying in 1 s: %s", error)
                    await asyncio.sleep(1)
        finally:
            await self._wait_inflight(timeout=STOP_GRACE)
            renewer.cancel()
            for task in list(self.inflight.values()):
                task.cancel()
            await self._wait_inflight()

    async def drain(self, *, timeout: float = 30) -> None:
        """Work until nothing is due, nothing readable and nothing running (tests, demo)."""
        await self.ensure_group()
        renewer = asyncio.create_task(self._renew_forever())
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.housekeeping()
                    read = await self._read(block_ms=0)
                    if not read and not self.inflight:
                        return
                    await self._wait_inflight(first=True)
        finally:
            renewer.cancel()
            await self._wait_inflight()

    async def housekeeping(self) -> None:
        await ledger.promote_due(self.r, self.clock())
        await self._take_over()
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_INTERVAL
            await self._prune_consumers()

    async def _prune_consumers(self) -> None:
        """Forget consumers of processes long gone, so XINFO stays readable. Only those
        with nothing pending: an entry is never left without an owner."""
        for consumer in await self.r.xinfo_consumers(keys.QUEUE, self.group):
            if consumer["pending"] == 0 and consumer["idle"] > STALE_CONSUMER_MS:
                await self.r.xgroup_delconsumer(keys.QUEUE, self.group, consumer["name"])

    async def _read(self, *, block_ms: int) -> int:
        free = self.concurrency - len(self.inflight)
        if free <= 0:
            await self._wait_inflight(first=True, timeout=block_ms / 1000 or None)
            return 0
        if self.pacer is not None:
            await self.pacer.turn()
            if self.pacer.paced:
                free = 1
        response = await self.r.xreadgroup(self.group, self.consumer, {keys.QUEUE: ">"},
                                           count=free, block=block_ms or None)
        entries = [entry for _, stream_entries in response or () for entry in stream_entries]
        for entry_id, fields in entries:
            self._start(entry_id, fields)
        return len(entries)

    async def _take_over(self) -> None:
        """Claim the entries of workers that stopped renewing them."""
        free = self.concurrency - len(self.inflight)
        if free <= 0:
            return
        _, entries, *_ = await self.r.xautoclaim(
            keys.QUEUE, self.group, self.consumer, min_idle_time=int(self.takeover * 1000),
            start_id="0-0", count=free)
        for entry_id, fields in entries:
            log.info("took over queue entry %s from a worker that stopped", text(entry_id))
            self._start(entry_id, fields)

    def _start(self, entry_id, fields) -> None:
        entry_id = text(entry_id)
        if entry_id in self.inflight:
            return
        message_id = text((fields or {}).get(b"id") or (fields or {}).get("id") or "")
        task = asyncio.create_task(self._deliver(entry_id, message_id))
        self.inflight[entry_id] = task
        task.add_done_callback(lambda _: self.inflight.pop(entry_id, None))

    async def _deliver(self, entry_id: str, message_id: str) -> None:
        try:
            message = await ledger.load(self.hot, message_id) if message_id else None
            if message is None or message.status in ledger.FINISHED:
                await ledger.ack(self.r, entry_id, group=self.group)
                return
            rules = await self.attempt.accounts.rules(message.account)
            if await self.hot.sismember(keys.suppressed(message.account),
                                      message.recipient.lower()):
                result = self.attempt.suppressed(message)
            else:
                result = await self.attempt.run(
                    message, rules, still_ours=lambda: entry_id not in self._lost)
            await self._finish(message, entry_id, result, rules.timezone)
        except ClaimLost:
            log.info("message %s was taken over by another worker; not sending it", message_id)
        except REDIS_FAILURES as error:
            # Left pending: this worker or another takes it over when Redis is back.
            log.warning("message %s: Redis unavailable (%s); it stays queued", message_id, error)
        except Exception:
            log.exception("message %s: unexpected error; it stays queued", message_id)
        finally:
            self._lost.discard(entry_id)

    async def _finish(self, message, entry_id: str, result, timezone: str) -> None:
        # The remote side may already have the message: try hard to record that it does.
        for delay in (0.1, 0.5, 1, 2, 5):
            try:
                await ledger.finish(self.hot, message, entry_id, result, timezone=timezone,
                                    group=self.group, retention=self.retention,
                                    copy_retention=self.copy_retention)
                return
            except REDIS_FAILURES as error:
                log.warning("message %s: recording %s failed (%s); retrying", message.id,
                            result.outcome, error)
                await asyncio.sleep(delay)
        raise ConnectionError(f"could not record the outcome of {message.id}")

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.takeover / 4)
            try:
                self._lost |= await ledger.renew(self.r, list(self.inflight), group=self.group,
                                                 consumer=self.consumer)
            except REDIS_FAILURES as error:
                log.warning("could not renew delivery claims: %s", error)

    async def _wait_inflight(self, *, first: bool = False, timeout: float | None = None):
        if self.inflight:
            await asyncio.wait(list(self.inflight.values()), timeout=timeout,
                               return_when="FIRST_COMPLETED" if first else "ALL_COMPLETED")
