"""Scenario: two `tidings worker` processes; the one inside a delivery is killed with
SIGKILL while the MX stalls before its reply. The other takes the message over after
TIDINGS_DELIVERY_TAKEOVER and delivers it: exactly one copy, nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from relay import keys
from tests.helpers.delivery import event_names, mx_delivery, status, submit
from tests.helpers.servers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen([sys.executable, "-m", "relay.cli", "worker"], env=env,
                                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=handle,
                                stderr=handle)


async def test_killed_worker_message_delivered_once_by_the_other(
        server, account, dns_server, local_mx, redis_url, r, tmp_path):
    mx = local_mx()
    mx.stall = threading.Event()
    settings = mx_delivery(dns_server, mx)
    env = {name: value for name, value in os.environ.items() if not name.startswith("TIDINGS_")}
    env.update({f"TIDINGS_{name.upper()}": str(value) for name, value in settings.items()})
    env.update(TIDINGS_REDIS_URL=redis_url, TIDINGS_DATA_DIR=str(server.settings.data_dir),
               TIDINGS_HOSTNAME="tidings.test", TIDINGS_DELIVERY_TAKEOVER="2s",
               TIDINGS_WORKER_PROCESSES="1",
               PYTHONPATH=str(ROOT))
    workers = [start_worker(env, tmp_path / f"worker{n}.log") for n in (1, 2)]
    try:
        logs = [tmp_path / f"worker{n}.log" for n in (1, 2)]
        wait_for(lambda: all("delivery worker" in log.read_text() for log in logs), timeout=30)
        message_id = await asyncio.to_thread(submit, server.smtp_port, account)
        # The message is inside a delivery: its data reached the MX, which holds its reply.
        wait_for(lambda: mx.stalled >= 1, timeout=30)
        (pending,) = r.xpending_range(keys.QUEUE, keys.QUEUE_GROUP, "-", "+", 10)
        holder = next(w for w in workers if f"-{w.pid}-" in pending["consumer"])
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        mx.stall.set()

        wait_for(lambda: status(r, message_id) == "delivered", timeout=30)
        survivor = next(w for w in workers if w is not holder)
        assert survivor.poll() is None
        assert len(mx.messages) == 1
        assert event_names(r, message_id) == ["accepted", "delivered"]
        assert r.xpending(keys.QUEUE, keys.QUEUE_GROUP)["pending"] == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)


async def test_long_gone_consumers_are_pruned_but_never_one_with_pending_entries(
        make_worker, r, monkeypatch):
    from relay.delivery import worker as worker_module

    worker = await make_worker(delivery="maildir:///nonexistent")
    await worker.ensure_group()
    r.xadd(keys.QUEUE, {"id": "01jd8x5k2m3n4p5q6r7s8t9v0w"})
    r.xreadgroup(keys.QUEUE_GROUP, "gone-with-entry", {keys.QUEUE: ">"}, count=1)
    r.xreadgroup(keys.QUEUE_GROUP, "gone-empty", {keys.QUEUE: ">"}, count=1)
    monkeypatch.setattr(worker_module, "STALE_CONSUMER_MS", 0)
    wait_for(lambda: all(c["idle"] > 0 for c in r.xinfo_consumers(keys.QUEUE, keys.QUEUE_GROUP)))
    await worker._prune_consumers()
    names = {c["name"] for c in r.xinfo_consumers(keys.QUEUE, keys.QUEUE_GROUP)}
    assert names == {"gone-with-entry"}


async def test_a_slow_live_delivery_is_not_taken_over(server, account, dns_server, local_mx,
                                                      make_worker, r):
    """The claim is renewed while the MX stalls for several takeover bounds."""
    mx = local_mx()
    mx.stall = threading.Event()
    settings = dict(mx_delivery(dns_server, mx), delivery_takeover="1s")
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    slow, other = await make_worker(**settings), await make_worker(**settings)
    delivering = asyncio.create_task(slow.drain())
    await asyncio.to_thread(wait_for, lambda: mx.stalled >= 1)
    for _ in range(15):  # 3 s: three times the takeover bound
        await other.housekeeping()
        assert not other.inflight, "a live delivery was taken over"
        await asyncio.sleep(0.2)
    mx.stall.set()
    await delivering
    assert len(mx.messages) == 1
    assert event_names(r, message_id) == ["accepted", "delivered"]
