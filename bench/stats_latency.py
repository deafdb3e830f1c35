"""Latency of the statistics API with a million events of one account in Redis.

    python bench/stats_latency.py [MESSAGES]      (default 250000 messages = 1,000,000 events)

Loads MESSAGES messages for one account through the real accept script (each records
`accepted` and is indexed for search), then `delivered`, `opened` and `clicked` for
each through the stats recorder: four events per message, spread over the last 31 days,
to 10,000 distinct recipients. Then serves the real app with uvicorn and times, over
real HTTP, `GET /v1/stats` for 31 days and `GET /v1/messages?recipient=` (limit 50):
300 sequential requests each, printing the median and p99 in milliseconds.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from relay import queue
from relay.redis_client import redis_client
from relay.redis_embedded import EmbeddedRedis
from relay.roles import start_api
from relay.settings import load_settings
from relay.store import accounts, credentials
from relay.store.messages import AcceptedMessage, new_message_id
from stats import recorder
from stats.events import Event, EventName

ACCOUNT, TZ, RECIPIENTS, DAYS, BATCH = "load", "Europe/Berlin", 10_000, 31, 50
DATA = (b"From: news@load.example\r\nTo: x@example.com\r\nSubject: Receipt\r\n\r\n"
        b"Thanks for your order.\r\n")


async def load(client, messages: int) -> None:
    await accounts.create(client, ACCOUNT, timezone=TZ)
    version = await client.get(f"tidings:account:{ACCOUNT}:version") or ""
    now, rng = time.time(), random.Random(7)
    started = time.perf_counter()
    for first in range(0, messages, BATCH):
        batch = []
        for _ in range(min(BATCH, messages - first)):
            at = now - rng.uniform(0, DAYS * 86400)
            recipient = f"r{rng.randrange(RECIPIENTS)}@example.com"
            batch.append(AcceptedMessage(new_message_id(at), ACCOUNT, ACCOUNT,
                                         "news@load.example", recipient, "127.0.0.1", at,
                                         "Receipt", DATA))
        await asyncio.gather(*(queue.accept(client, m, detail={"recipient": m.recipient},
                                            timezone=TZ, rules_version=version)
                               for m in batch))
        await asyncio.gather(*(recorder.record(
            client, *(Event(name, ACCOUNT, m.id, m.received + offset, {})
                      for name, offset in ((EventName.DELIVERED, 2), (EventName.OPENED, 600),
                                           (EventName.CLICKED, 660))), timezone=TZ)
            for m in batch))
        done = first + len(batch)
        if done % 50_000 == 0 or done == messages:
            print(f"  {done * 4:>9,} events loaded ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    # The queue entries are not what is measured: drop them, as delivery would.
    await client.delete("tidings:queue")


async def timed(http: httpx.AsyncClient, paths: list[str]) -> tuple[float, float]:
    took = []
    for path in paths:
        start = time.perf_counter()
        response = await http.get(path)
        took.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text)
    took.sort()
    return statistics.median(took), took[int(len(took) * 0.99) - 1]


async def main(url: str, data_dir: Path, messages: int) -> None:
    client = redis_client(url, timeout=30)
    await load(client, messages)
    key = (await credentials.create_key(client, ACCOUNT)).key
    await client.aclose()
    settings = load_settings(redis_url=url, data_dir=data_dir, hostname="bench.test",
                             http_port=0, bind="127.0.0.1")
    api = await start_api(settings, url)
    info = await redis_client(url, timeout=30).info("memory")
    print(f"Redis memory: {info['used_memory_human']}")
    today = datetime.now(UTC).date()
    stats_path = f"/v1/stats?from={today - timedelta(days=DAYS - 1)}&to={today}"
    rng = random.Random(11)
    search = [f"/v1/messages?recipient=r{rng.randrange(RECIPIENTS)}@example.com&limit=50"
              for _ in range(300)]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.port}", timeout=30,
                                 headers={"Authorization": f"Bearer {key}"}) as http:
        await timed(http, [stats_path] * 20 + search[:20])  # warm-up
        for label, paths in (("GET /v1/stats (31 days)", [stats_path] * 300),
                             ("GET /v1/messages?recipient= (limit 50)", search)):
            median, p99 = await timed(http, paths)
            print(f"{label:<40} median {median:6.2f} ms   p99 {p99:6.2f} ms")
    await api.stop()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 250_000
    directory = Path(tempfile.mkdtemp(prefix="tidings-stats-"))
    embedded = EmbeddedRedis(directory)
    try:
        redis_url = embedded.acquire()
        print(f"loading {count:,} messages ({count * 4:,} events) for one account")
        asyncio.run(main(redis_url, directory, count))
    finally:
        embedded.release()
