"""The newcomer's path as the README tells it, every step a separate process.

`tidings serve` on a fresh data directory with no TIDINGS_REDIS_URL starts the embedded
Redis; `tidings account ...` in other processes joins the same one; swaks sends a message,
which serve's delivery worker delivers (into a Maildir here); SIGTERM stops serve cleanly
and the embedded redis-server with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import redis

from relay import keys
from relay.redis_embedded import EmbeddedRedis
from tests.helpers.servers import wait_for

ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT = 60
QUEUED = re.compile(r"^<~  250 2\.0\.0 Ok: queued as ([0-9a-z]{26})$", re.MULTILINE)


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie (an exited child nobody has reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def tidings(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "relay.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=STEP_TIMEOUT,
                          stdin=subprocess.DEVNULL)


def test_serve_account_send_stop(tmp_path: Path):
    swaks = shutil.which("swaks")
    if swaks is None:
        pytest.skip("swaks is not installed (apt-get install swaks)")
    data_dir = tmp_path / "data"
    smtp_port, smtps_port, bounce_port, http_port = free_ports(4)
    env = {name: value for name, value in os.environ.items() if not name.startswith("TIDINGS_")}
    env.update({
        "TIDINGS_DATA_DIR": str(data_dir),
        "TIDINGS_SMTP_PORT": str(smtp_port),
        "TIDINGS_SMTPS_PORT": str(smtps_port),
        "TIDINGS_BOUNCE_PORT": str(bounce_port),
        "TIDINGS_HTTP_PORT": str(http_port),
        "TIDINGS_HOSTNAME": "localhost",
        "TIDINGS_BIND": "127.0.0.1",
        "TIDINGS_DELIVERY": f"maildir://{tmp_path / 'Maildir'}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    })
    pid_file = data_dir / "redis" / "redis.pid"
    log_path = tmp_path / "serve.log"
    redis_pid: int | None = None
    with open(log_path, "w") as log:
        serve = subprocess.Popen([sys.executable, "-m", "relay.cli", "serve"], env=env,
                                 cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        def serving() -> bool:
            if serve.poll() is not None:
                raise AssertionError(f"serve exited with {serve.returncode}: "
                                     f"{log_path.read_text()}")
            return accepts(smtp_port) and accepts(smtps_port) and accepts(http_port)

        wait_for(serving, timeout=STEP_TIMEOUT, interval=0.1)
        # Its delivery workers step aside while submission, in serve's own process among
        # others, is busy.
        wait_for(lambda: "delivery worker" in log_path.read_text(), timeout=STEP_TIMEOUT)
        paced = re.search(r"steps aside while submission \(pid ([0-9, ]+)\) is busy",
                          log_path.read_text())
        assert paced and str(serve.pid) in paced[1].split(", "), log_path.read_text()
        # ...and one process of serve's (not each submission process) times the
        # compactions of the embedded Redis's file.
        assert len(re.findall(r"^\S+ \S+ INFO relay\.aof_compaction: this process compacts",
                              log_path.read_text(), re.MULTILINE)) == 1, log_path.read_text()
        # serve runs the HTTP service too.
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=10) as got:
            assert got.status == 200 and json.load(got) == {"status": "ok"}
        redis_pid = int(pid_file.read_text())
        assert pid_alive(redis_pid)

        created = tidings("account", "create", "shop", "--json", env=env, cwd=tmp_path)
        assert created.returncode == 0, created.stderr
        account = json.loads(created.stdout)
        assert account["account"] == "shop"
        assert (account["host"], account["smtp_port"], account["smtps_port"]) == (
            "localhost", smtp_port, smtps_port)
        assert account["login"] and account["password"]

        added = tidings("account", "sender", "add", "shop", "you@shop.example", env=env,
                        cwd=tmp_path)
        assert added.returncode == 0, added.stderr
        assert added.stdout.strip() == "you@shop.example added"
        # The account commands joined serve's Redis and left it running.
        assert pid_alive(redis_pid) and serve.poll() is None

        sent = subprocess.run(
            [swaks, "--server", "127.0.0.1", "--port", str(smtp_port), "--tls",
             "--auth", "LOGIN", "--auth-user", account["login"],
             "--auth-password", account["password"],
             "--from", "you@shop.example", "--to", "alice@example.com", "--timeout", "30"],
            capture_output=True, text=True, timeout=STEP_TIMEOUT, stdin=subprocess.DEVNULL)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        queued = QUEUED.search(sent.stdout)
        assert queued, sent.stdout
        # serve's worker delivered it; the one embedded Redis that serve and the account
        # commands share has its record.
        wait_for(lambda: list((tmp_path / "Maildir" / "new").glob("*")), timeout=STEP_TIMEOUT)
        (delivered,) = (tmp_path / "Maildir" / "new").iterdir()
        assert b"Delivered-To: alice@example.com" in delivered.read_bytes()
        client = redis.Redis(unix_socket_path=str(EmbeddedRedis(data_dir).socket),
                             decode_responses=True, socket_timeout=10)
        try:
            assert client.hget(keys.message(queued[1]), "status") == "delivered"
            # serve told every script the retention settings (here the defaults).
            assert client.hgetall("tidings:stats:-:config") == {
                "retention_day": str(400 * 86400), "retention_timeline": str(30 * 86400)}
        finally:
            client.close()

        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0, log_path.read_text()
        wait_for(lambda: not pid_alive(redis_pid), timeout=30)
        assert not accepts(smtp_port)
        assert "Traceback" not in log_path.read_text()
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(timeout=10)
        if redis_pid is None:
            with contextlib.suppress(OSError, ValueError):
                redis_pid = int(pid_file.read_text())
        if redis_pid is not None and pid_alive(redis_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(redis_pid, signal.SIGKILL)
