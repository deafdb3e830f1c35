"""Delivery steps aside while submission is busy: the arithmetic with time as an argument,
then the CPU readings of real processes, then a worker over the real Redis."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from relay import keys
from relay.delivery.pacing import (
    BURST,
    BUSY_SHARE,
    FLOOR_SHARE,
    WINDOW,
    Budget,
    SubmissionPacer,
    busy,
    process_cpu_seconds,
)
from tests.helpers.servers import wait_for

#: A little over one window, so that clock arithmetic in floats always reaches it.
A_WINDOW = WINDOW * 1.001


def test_the_budget_refills_at_the_floor_share():
    budget = Budget(floor=0.1, burst=0.01)
    budget.restart(0.0, 0.0)
    assert budget.wait(0.0, 0.0) == 0
    # One delivery took 4 ms of CPU; at 10% of a core that is 40 ms, 10 of them past.
    assert budget.wait(0.01, 0.004) == pytest.approx(0.03)
    assert budget.wait(0.04, 0.004) == pytest.approx(0.0, abs=1e-12)


def test_time_spent_idle_is_not_saved_up():
    budget = Budget(floor=0.1, burst=0.01)
    budget.restart(0.0, 0.0)
    # Ten seconds with nothing to deliver: at most `burst` is saved, not a second of CPU.
    assert budget.wait(10.0, 0.0) == 0
    assert budget.wait(10.0, 0.05) == pytest.approx(0.4)


def test_a_restart_forgets_what_was_owed():
    budget = Budget(floor=0.1, burst=0.01)
    budget.restart(0.0, 0.0)
    assert budget.wait(0.0, 1.0) > 0
    budget.restart(5.0, 1.0)
    assert budget.wait(5.0, 1.0) == 0


@pytest.mark.parametrize("used", [0.001, 0.03, 0.5, 2.0])
def test_after_the_wait_the_share_is_exactly_the_floor(used):
    budget = Budget(floor=FLOOR_SHARE, burst=BURST)
    budget.restart(0.0, 0.0)
    wait = budget.wait(0.05, used)
    assert wait == 0 or used / (0.05 + wait) == pytest.approx(FLOOR_SHARE)
    assert budget.wait(0.05 + wait, used) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("cpu", "elapsed", "cpus", "expected"), [
    (BUSY_SHARE * 2 * 0.1, 0.1, 2, True),           # exactly the threshold
    (BUSY_SHARE * 2 * 0.1 * 0.99, 0.1, 2, False),
    (0.1, 0.1, 8, False),                            # one core of eight is not busy
    (0.1, 0.1, 2, True),                             # one core of two is
    (1.0, 0.0, 2, False),                            # no time has passed
])
def test_busy_is_a_share_of_the_machine(cpu, elapsed, cpus, expected):
    assert busy(cpu, elapsed, cpus) is expected


class Readings:
    """The submission processes' CPU seconds and this worker's, set by the test."""

    def __init__(self) -> None:
        self.now = 100.0
        self.submission = {11: 5.0, 12: 7.0}
        self.own = 1.0

    def read(self, pid: int) -> float | None:
        return self.submission.get(pid)

    def pacer(self) -> SubmissionPacer:
        return SubmissionPacer(self.submission, cpus=2, read_cpu=self.read,
                               own_cpu=lambda: self.own, clock=lambda: self.now)

    def advance(self, seconds: float, *, submission_cores: float, own: float = 0.0) -> None:
        self.now += seconds
        for pid in self.submission:
            self.submission[pid] += seconds * submission_cores / len(self.submission)
        self.own += own


def test_quiet_submission_never_delays_delivery():
    readings = Readings()
    pacer = readings.pacer()
    for _ in range(5):
        readings.advance(A_WINDOW, submission_cores=0.1, own=A_WINDOW)  # worker at full speed
        assert pacer.delay() == 0
        assert not pacer.paced


def test_busy_submission_holds_the_worker_to_its_floor_then_lets_it_go():
    readings = Readings()
    pacer = readings.pacer()
    readings.advance(A_WINDOW, submission_cores=1.5)
    assert pacer.delay() == 0  # busy from now on, and nothing used yet
    assert pacer.paced
    # One delivery, using the CPU time the floor grants in 40 ms; 10 ms have passed.
    readings.advance(0.01, submission_cores=1.5, own=0.04 * FLOOR_SHARE)
    assert pacer.delay() == pytest.approx(0.03)
    readings.advance(0.03, submission_cores=1.5)
    assert pacer.delay() == 0
    # A long delivery's debt is paid a window at a time, looking again in between.
    readings.advance(0.01, submission_cores=1.5, own=0.1)
    assert pacer.delay() == WINDOW
    readings.advance(A_WINDOW, submission_cores=0.0)
    assert pacer.delay() == 0 and not pacer.paced


def test_a_new_busy_stretch_starts_with_a_clean_budget():
    readings = Readings()
    pacer = readings.pacer()
    readings.advance(A_WINDOW, submission_cores=2.0)
    pacer.delay()
    readings.advance(A_WINDOW, submission_cores=0.0, own=0.5)  # spent while quiet
    assert pacer.delay() == 0
    readings.advance(A_WINDOW, submission_cores=2.0)
    assert pacer.delay() == 0 and pacer.paced


def test_after_a_quiet_spell_the_first_window_is_paced_until_measured():
    readings = Readings()
    pacer = readings.pacer()
    # Ten quiet seconds, then a burst in the last tenth: the ten-second average is low.
    readings.advance(9.9, submission_cores=0.0)
    readings.advance(0.1, submission_cores=2.0)
    assert pacer.delay() == 0 and pacer.paced
    readings.advance(0.01, submission_cores=2.0, own=0.004)
    assert pacer.delay() > 0
    # Measured over a window: the burst goes on, so pacing does too...
    readings.advance(A_WINDOW, submission_cores=2.0)
    pacer.delay()
    assert pacer.paced
    # ...and a quiet window ends it.
    readings.advance(A_WINDOW, submission_cores=0.0)
    assert pacer.delay() == 0 and not pacer.paced


def test_a_submission_process_that_is_gone_counts_for_nothing():
    readings = Readings()
    pacer = readings.pacer()
    del readings.submission[12]
    readings.advance(A_WINDOW, submission_cores=0.0)
    # 12's 7 CPU seconds vanished from the sum: that is no reason to be busy, nor to fail.
    assert pacer.delay() == 0 and not pacer.paced


def test_the_cpu_of_a_real_process_and_of_one_that_is_gone():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        first = process_cpu_seconds(spinner.pid)
        assert first is not None
        wait_for(lambda: process_cpu_seconds(spinner.pid) >= first + 0.2, timeout=30)
    finally:
        spinner.kill()
        spinner.wait()
    assert process_cpu_seconds(spinner.pid) is None
    assert process_cpu_seconds(os.getpid()) > 0


def looked(pacer: SubmissionPacer) -> bool:
    """Let the pacer take a reading (it does so at most once per WINDOW)."""
    pacer.delay()
    return True


def test_a_real_busy_process_paces_and_its_end_releases():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        # One spinning process is busy against one CPU (a quarter of it would do).
        pacer = SubmissionPacer([spinner.pid], cpus=1)
        wait_for(lambda: looked(pacer) and pacer.paced, timeout=30)
    finally:
        spinner.kill()
        spinner.wait()
    wait_for(lambda: looked(pacer) and not pacer.paced, timeout=30)


async def test_a_paced_worker_starts_one_delivery_per_turn(make_worker, r):
    worker = await make_worker(delivery="maildir:///nonexistent")
    await worker.ensure_group()
    readings = Readings()
    worker.pacer = readings.pacer()
    # Entries whose messages do not exist: each delivery only acks its entry.
    for n in range(6):
        r.xadd(keys.QUEUE, {"id": f"01jd8x5k2m3n4p5q6r7s8t9v{n}w"})
    readings.advance(A_WINDOW, submission_cores=2.0)
    assert await worker._read(block_ms=0) == 1
    await worker._wait_inflight()
    readings.advance(A_WINDOW, submission_cores=0.0)
    assert await worker._read(block_ms=0) == 5
    await worker._wait_inflight()
    assert r.xpending(keys.QUEUE, keys.QUEUE_GROUP)["pending"] == 0
