"""Delivery steps aside while submission is busy on the same machine.

Beside submission (`tidings serve`), a worker that keeps the CPUs busy slows every SMTP
session down, whatever its scheduling priority: on a two-core machine, one
`SCHED_IDLE` busy loop halved the messages/s that submission accepted, because the
submission processes and Redis then wait on the run queue. Clients wait on submission;
nobody waits on the queue by the millisecond. So while the submission processes use a
large share of the machine, a worker only starts a delivery when its own CPU time is
under a small floor share of one core, which keeps the queue moving; the moment
submission goes quiet, it runs at full speed again.

Invariant: pacing only ever delays the start of a delivery. It never drops, reorders
or cancels one, and a worker that cannot read the submission processes' CPU time is
simply not paced.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Submission is busy while its processes use at least this share of the machine's CPUs.
BUSY_SHARE = 0.25
#: Share of one core a worker keeps for delivery while submission is busy. A worker per
#: core (serve's default) so keeps a twentieth of the machine: the queue keeps moving,
#: while a burst is accepted with most of what the machine has. How soon a burst's mail
#: is out depends little on it, since nearly all of it leaves after the burst anyway.
FLOOR_SHARE = 0.05
#: CPU seconds a paced worker may save up: a few deliveries of a small message.
BURST = 0.01
#: Seconds between two readings of the submission processes' CPU time.
WINDOW = 0.1
#: A reading older than this (the worker had nothing to start) says nothing about now.
STALE = 2 * WINDOW

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a process and its threads; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:
        return None
    # After the command name: state is field 3 of proc(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _usable_cpus() -> int:
    """The CPUs this process may run on (fewer than the machine's under taskset)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass
class Budget:
    """The CPU time a paced worker may spend: a bucket filled at `floor` CPU seconds per
    second and holding at most `burst`. The cap matters: a worker with nothing to do
    while submission is busy must not save that time up for a run at full speed later,
    in the middle of the same burst."""

    floor: float = FLOOR_SHARE
    burst: float = BURST
    #: CPU seconds it may still spend; below 0, what it owes.
    tokens: float = 0.0
    #: The clock and this process's CPU seconds at the last look.
    seen: tuple[float, float] = (0.0, 0.0)

    def restart(self, now: float, cpu: float) -> None:
        """A busy stretch begins: nothing saved, nothing owed."""
        self.tokens, self.seen = 0.0, (now, cpu)

    def wait(self, now: float, cpu: float) -> float:
        """Seconds to wait before the next delivery, given the clock and the CPU seconds
        this process has used so far; 0 when it is within its share."""
        then, spent = self.seen
        self.tokens = min(self.burst, self.tokens + self.floor * (now - then)) - (cpu - spent)
        self.seen = (now, cpu)
        return 0.0 if self.tokens >= 0 else -self.tokens / self.floor


def busy(submission_cpu: float, elapsed: float, cpus: int) -> bool:
    """Whether submission's CPU seconds over `elapsed` seconds make it busy."""
    return elapsed > 0 and submission_cpu >= BUSY_SHARE * cpus * elapsed


class SubmissionPacer:
    """Paces one worker against the submission processes `pids` of the same machine."""

    def __init__(self, pids: Iterable[int], *, cpus: int | None = None,
                 read_cpu: Callable[[int], float | None] = process_cpu_seconds,
                 own_cpu: Callable[[], float] = time.process_time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pids = tuple(pids)
        self.cpus = cpus or _usable_cpus()
        self.budget = Budget()
        self.read_cpu = read_cpu
        self.own_cpu = own_cpu
        self.clock = clock
        self._sampled_at = clock()
        self._submission_cpu = self._submission()
        self._busy = False

    def _submission(self) -> float:
        return sum(cpu for cpu in map(self.read_cpu, self.pids) if cpu is not None)

    def _sample(self, now: float) -> None:
        elapsed = now - self._sampled_at
        total = self._submission()
        was_busy = self._busy
        # After a quiet spell, an average over it would hide a burst that has just begun
        # (the one that woke this worker up): paced until one window has been measured.
        self._busy = elapsed > STALE or busy(total - self._submission_cpu, elapsed,
                                             self.cpus)
        self._sampled_at, self._submission_cpu = now, total
        if self._busy and not was_busy:
            self.budget.restart(now, self.own_cpu())

    @property
    def paced(self) -> bool:
        """Whether submission was busy at the last look: start one delivery at a time."""
        return self._busy

    def delay(self) -> float:
        """Seconds to wait before the next delivery starts (0: start it now)."""
        now = self.clock()
        if now - self._sampled_at >= WINDOW:
            self._sample(now)
        if not self._busy:
            return 0.0
        # Look again within a window: submission may have gone quiet meanwhile.
        return min(self.budget.wait(now, self.own_cpu()), WINDOW)

    async def turn(self) -> None:
        """Return when this worker may start its next delivery."""
        while (wait := self.delay()) > 0:
            await asyncio.sleep(wait)
