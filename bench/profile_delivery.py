"""Where a delivery's CPU goes: queue N messages, drain them with one worker under cProfile.

    python bench/profile_delivery.py [N]        (needs smtp-sink on PATH, from postfix)
    PROFILE=0 python bench/profile_delivery.py  (wall and CPU time without the profiler)
    PROFILE_OUT=file.prof python bench/profile_delivery.py  (also keep the raw profile)
    SIZE=102400 python bench/profile_delivery.py  (another body size; 5120 by default)

Messages are 5 KB HTML (SIZE) with 20 links (bench/linked_load.py's body), tracked and
DKIM-signed (RSA 2048), delivered over SMTP to a local `smtp-sink`. Prints the wall
time, messages/s and the CPU of each step of an attempt, by the profiler's cumulative
time: loading from Redis, rendering, signing, the SMTP client, recording the outcome.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.argv[1:] = sys.argv[1:] or ["3000"]
N = int(sys.argv[1])
#: PROFILE=0: only time the drain, without the profiler's overhead.
PROFILE = os.environ.get("PROFILE", "1") != "0"
#: SIZE=102400: the body size in bytes (LINKS links at its start, as in linked_load).
SIZE = int(os.environ.get("SIZE", "5120"))
sys.argv[1:] = []
import linked_load  # noqa: E402

from relay import queue  # noqa: E402
from relay.dkim_keys import generate  # noqa: E402
from relay.redis_client import hot_client, redis_client  # noqa: E402
from relay.redis_embedded import EmbeddedRedis  # noqa: E402
from relay.roles import _event_loop_runner, build_worker  # noqa: E402
from relay.settings import load_settings  # noqa: E402
from relay.store import accounts  # noqa: E402
from relay.store import dkim as dkim_store  # noqa: E402
from relay.store.messages import AcceptedMessage, new_message_id  # noqa: E402

STEPS = {
    "load (Redis)": "ledger.py:*(load)",
    "render": "render.py:*(render)",
    "DKIM sign": "dkim.py:*(sign)",
    "SMTP client (deliver)": "transports.py:*(deliver)",
    "record outcome (Redis)": "ledger.py:*(finish)",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def enqueue(client, n: int) -> None:
    await accounts.create(client, "bench")
    await dkim_store.save(client, generate("bench.example"), replace=True)
    body = linked_load.linked_body(SIZE)
    version = await client.get("tidings:account:bench:version") or ""
    for i in range(n):
        data = (b"From: Shop <sender@bench.example>\r\nTo: <rcpt@example.com>\r\n"
                b"Subject: Your receipt %d\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
                b"Message-ID: <%d@load.invalid>\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: text/html; charset=utf-8\r\n"
                b"Content-Transfer-Encoding: 8bit\r\n\r\n" % (i, i)) + body
        now = time.time()
        message = AcceptedMessage(new_message_id(now), "bench", "bench", "sender@bench.example",
                                  "rcpt@example.com", "127.0.0.1", now, "r", data,
                                  "bench.example")
        await queue.accept(client, message, detail={}, timezone="UTC", rules_version=version)


async def main(url: str, sink_port: int, data_dir: Path) -> None:
    client = redis_client(url, timeout=10)
    await enqueue(client, N)
    await client.aclose()
    settings = load_settings(redis_url=url, data_dir=data_dir, hostname="bench.test",
                             delivery=f"smtp://127.0.0.1:{sink_port}",
                             public_url="https://t.bench.example")
    binary = redis_client(url, timeout=10, binary=True)
    hot = hot_client(url, timeout=10)
    worker = build_worker(settings, binary, hot)
    profiler = cProfile.Profile()
    start, cpu = time.perf_counter(), time.process_time()
    if PROFILE:
        profiler.enable()
    await worker.drain(timeout=600)
    profiler.disable()
    if PROFILE and os.environ.get("PROFILE_OUT"):
        profiler.dump_stats(os.environ["PROFILE_OUT"])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"worker process CPU {cpu / N * 1000:.2f} ms per message"
          + (" (under the profiler)" if PROFILE else ""))
    await worker.attempt.transport.close()
    await binary.aclose()
    await hot.aclose()
    if PROFILE:
        report(profiler, wall)
    else:
        print(f"{N} messages in {wall:.2f} s wall: {N / wall:.0f} delivered/s on one worker")


def report(profiler: cProfile.Profile, wall: float) -> None:
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # all own time = CPU profiled
    print(f"{N} messages in {wall:.2f} s wall: {N / wall:.0f} delivered/s on one worker "
          f"process; profiled CPU {total / N * 1000:.2f} ms per message")
    for label, pattern in STEPS.items():
        file_part, _, func = pattern.partition(":*(")
        func = func.rstrip(")")
        cumulative = sum(row[3] for (path, _, name), row in stats.stats.items()
                         if path.endswith(file_part) and name == func)
        print(f"  {label:<24} {cumulative / N * 1000:6.3f} ms  {cumulative / total:6.1%}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print(out.getvalue())


if __name__ == "__main__":
    port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-c", "-u", "postfix", f"127.0.0.1:{port}", "1024"],
                            stdout=subprocess.DEVNULL)
    data_dir = Path(tempfile.mkdtemp(prefix="tidings-profile-"))
    embedded = EmbeddedRedis(data_dir)
    try:
        url = embedded.acquire()
        _event_loop_runner()(main(url, port, data_dir))
    finally:
        embedded.release()
        sink.terminate()
