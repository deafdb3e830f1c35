"""What SMTP over STARTTLS costs in Python on uvloop, with and without aiosmtpd's machinery.

    python bench/submission_floor.py              # 3 rounds of 15,000 5 KB messages
    python bench/submission_floor.py --reps 5 -n 20000

Why: at 5 KB, accepting a message costs Tidings' submission processes about 0.6 ms of
CPU, and the question for the 2x target is how much of that any Python SMTP server pays.
Two servers, one process each, answer 250 to everything and store nothing:

- ``aiosmtpd``: Tidings' own SubmissionProtocol (aiosmtpd's session loop, stream reader
  and command methods, native TLS through loop.start_tls, the block DATA reader) with a
  handler that neither judges nor stores: Tidings less its rules, MIME walk and queue.
- ``protocol``: a bare asyncio.Protocol state machine with the same TLS. It checks
  nothing and is no mail server: it is the floor under any Python design.

Each round runs both, in turn, under ../shared/bench/smtpload.py (16 sessions, STARTTLS,
no AUTH, uvloop) and reads the server's CPU time from /proc. The client's CPU is printed
too: the machine's speed swings by a fifth between minutes, so compare figures of one
run, and trust a difference only when it holds in every round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relay.delivery.pacing import process_cpu_seconds  # noqa: E402

TOOLS = Path(os.environ.get("BENCH_TOOLS", ROOT.parent / "shared" / "bench"))
VARIANTS = ("aiosmtpd", "protocol")
TERMINATOR = b"\r\n.\r\n"


REPLIES = {
    b"EHLO": b"250-localhost\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"QUIT": b"221 2.0.0 Bye\r\n",
}


class FloorProtocol(asyncio.Protocol):
    """EHLO, STARTTLS, MAIL, RCPT, DATA and QUIT, answered without a single check."""

    def __init__(self, tls_context):
        self.tls_context = tls_context
        self.buffer = bytearray()
        self.in_data = False
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"220 localhost ESMTP floor\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            if self.in_data:
                end = self.buffer.find(TERMINATOR)
                if end < 0:
                    return
                del self.buffer[:end + len(TERMINATOR)]
                self.in_data = False
                self.transport.write(b"250 2.0.0 Ok: queued as FLOOR\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            verb = bytes(self.buffer[:4]).upper()
            del self.buffer[:end + 2]
            if verb == b"STAR":
                self.transport.write(b"220 2.0.0 Ready to start TLS\r\n")
                asyncio.get_running_loop().create_task(self._start_tls())
                return
            self.transport.write(REPLIES.get(verb, b"250 2.0.0 Ok\r\n"))
            if verb == b"DATA":
                self.in_data = True
            elif verb == b"QUIT":
                self.transport.close()
                self.transport = None

    async def _start_tls(self) -> None:
        self.transport = await asyncio.get_running_loop().start_tls(
            self.transport, self, self.tls_context, server_side=True)


class AnswerOnly:
    """A handler that takes every message and keeps none."""

    async def handle_message(self, server, session, envelope, result) -> str:
        return "250 2.0.0 Ok: queued as FLOOR"


def serve(variant: str, port: int, data_dir: Path) -> None:
    import uvloop

    from relay.smtp.protocol import SessionCounter, SubmissionProtocol
    from relay.tls import ensure_self_signed, server_context

    context = server_context(*ensure_self_signed(data_dir, "localhost"))
    sessions = SessionCounter(0)

    def factory():
        if variant == "protocol":
            return FloorProtocol(context)
        return SubmissionProtocol(AnswerOnly(), tls_context=context, implicit_tls=False,
                                  hostname="localhost", max_size=10 << 20, idle_timeout=300,
                                  sessions=sessions, proxy_protocol=False)

    async def main() -> None:
        await asyncio.get_running_loop().create_server(factory, "127.0.0.1", port)
        await asyncio.Event().wait()

    uvloop.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("submission_floor: the server did not start")


def measure(variant: str, args, data_dir: Path) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "serve", variant, str(port),
                               str(data_dir)], cwd=ROOT)
    try:
        wait_port(port, server)
        before = process_cpu_seconds(server.pid)
        load = subprocess.run(
            [sys.executable, str(TOOLS / "smtpload.py"), "--host", "127.0.0.1", "--port",
             str(port), "--starttls", "-c", "16", "-n", str(args.n), "--size", str(args.size),
             "--uvloop", "--from", "a@bench.example", "--to", "rcpt@example.com"],
            check=True, capture_output=True, text=True)
        spent = process_cpu_seconds(server.pid) - before
    finally:
        server.terminate()
        server.wait()
    result = json.loads(load.stdout.strip().splitlines()[-1])
    if result["accepted"] != args.n:
        raise SystemExit(f"submission_floor: {variant} accepted {result['accepted']} of {args.n}")
    return {"server_ms": spent * 1000 / args.n,
            "client_ms": result["client_cpu_s"] * 1000 / args.n,
            "msgs_per_s": result["msgs_per_s"]}


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("-n", type=int, default=15000, help="messages per run")
    parser.add_argument("--size", type=int, default=5120)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as data_dir:
        for rep in range(1, args.reps + 1):
            for variant in VARIANTS:
                run = measure(variant, args, Path(data_dir))
                runs[variant].append(run)
                print(f"round {rep} {variant:9} server {run['server_ms']:.3f} ms/msg, client "
                      f"{run['client_ms']:.3f} ms/msg, {run['msgs_per_s']:.0f} msgs/s",
                      flush=True)
    medians = {v: statistics.median(r["server_ms"] for r in runs[v]) for v in VARIANTS}
    for variant in VARIANTS:
        print(f"median {variant:9} server {medians[variant]:.3f} ms/msg")
    print(f"aiosmtpd's machinery costs {medians['aiosmtpd'] - medians['protocol']:.3f} ms/msg "
          f"over the floor ({medians['aiosmtpd'] / medians['protocol']:.2f}x)")


if __name__ == "__main__":
    main()
