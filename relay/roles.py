"""Composition root: turn Settings into running roles. Wiring only, no rules.

Each role talks to the others only through Redis, so `tidings serve` is just the roles
of one machine started together, and `tidings smtp` on many hosts is the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
import uvicorn

from relay.aof_compaction import compact_when_cheap
from relay.delivery.account_cache import AccountCache
from relay.delivery.attempt import Attempt, Links
from relay.delivery.pacing import SubmissionPacer
from relay.delivery.transports import Transport, transport_from_uri
from relay.delivery.worker import Worker
from relay.redis_client import hot_client, redis_client
from relay.redis_embedded import EmbeddedRedis, durability_warnings
from relay.secret import signing_key
from relay.settings import Settings
from relay.smtp.handler import SubmissionHandler
from relay.smtp.protocol import SessionCounter, protocol_factory, start_listener
from relay.store import sessions_view
from relay.tls import context_for
from stats import recorder

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Start-up cannot go on; the message is the one line the operator sees."""


@contextlib.contextmanager
def redis_url(settings: Settings) -> Iterator[str]:
    """The Redis to use: TIDINGS_REDIS_URL (checked for durability) or the embedded one."""
    if settings.redis_url:
        try:
            client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
            client.ping()
        except (redis.RedisError, OSError, ValueError) as error:
            raise StartupError(f"TIDINGS_REDIS_URL: cannot reach {settings.redis_url}: "
                               f"{error}") from None
        for warning in durability_warnings(client):
            log.warning("%s", warning)
        client.close()
        yield settings.redis_url
        return
    embedded = EmbeddedRedis(settings.data_dir)
    url = embedded.acquire()
    try:
        yield url
    finally:
        embedded.release()


@dataclass
class SmtpRole:
    """The running submission listeners; `ports` are the bound ports (useful with port 0)."""

    servers: list[asyncio.Server]
    redis: aioredis.Redis
    handler: SubmissionHandler
    #: Reports the open sessions for /metrics (submission only).
    reporter: asyncio.Task | None = None
    #: The acceptance script's client (hot_client), when it is not `redis`.
    hot: object | None = None

    @property
    def ports(self) -> list[int]:
        return [server.sockets[0].getsockname()[1] for server in self.servers]

    async def stop(self) -> None:
        if self.reporter is not None:
            self.reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reporter
        for server in self.servers:
            server.close()
        for server in self.servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 10)
        rules = getattr(self.handler, "rules", None)  # the bounce listener caches none
        if rules is not None:
            await rules.stop()
        await self.redis.aclose()
        if self.hot is not None:
            await self.hot.aclose()


async def start_smtp(settings: Settings, url: str) -> SmtpRole:
    client = redis_client(url, timeout=settings.redis_timeout)
    hot = hot_client(url, timeout=settings.redis_timeout)
    handler = SubmissionHandler(redis=client, max_size=settings.max_message_size,
                                max_auth_failures=settings.auth_max_failures,
                                lockout_seconds=settings.auth_lockout, queue_redis=hot)
    context = context_for(settings.data_dir, settings.hostname, settings.tls_cert,
                          settings.tls_key)
    sessions = SessionCounter(settings.max_sessions_per_ip)
    common = dict(tls_context=context, hostname=settings.hostname,
                  max_size=settings.max_message_size, idle_timeout=settings.smtp_idle_timeout,
                  sessions=sessions, proxy_protocol=settings.proxy_protocol)
    servers = []
    for setting, port, implicit in (("TIDINGS_SMTP_PORT", settings.smtp_port, False),
                                    ("TIDINGS_SMTPS_PORT", settings.smtps_port, True)):
        factory = protocol_factory(handler, implicit_tls=implicit, **common)
        try:
            servers.append(await start_listener(
                factory, host=settings.bind, port=port,
                # Behind PROXY the header comes first, in clear: TLS starts after it.
                ssl_context=context if implicit and not settings.proxy_protocol else None,
                reuse_port=settings.effective_smtp_processes > 1))
        except OSError as error:
            for server in servers:
                server.close()
            await client.aclose()
            await hot.aclose()
            raise StartupError(bind_error(setting, port, error)) from None
    handler.rules.start()
    reporter = asyncio.create_task(sessions_view.report_forever(
        client, lambda: sessions.total, clock=time.time))
    role = SmtpRole(servers, client, handler, reporter, hot)
    log.info("SMTP submission on ports %s (STARTTLS) and %s (TLS)", *role.ports)
    return role


@dataclass
class WorkerRole:
    """A delivery worker running as a task until `stop`."""

    worker: Worker
    task: asyncio.Task
    stopping: asyncio.Event
    redis: aioredis.Redis

    async def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(Exception):
            await self.task
        await self.worker.attempt.transport.close()
        await self.redis.aclose()
        await self.worker.hot.aclose()


def build_worker(settings: Settings, client: aioredis.Redis, hot=None, *,
                 pacer: SubmissionPacer | None = None, **options) -> Worker:
    """The worker of these settings over `client` (a binary-safe Redis client), with
    `hot` (relay.redis_client.hot_client) for the commands of every message."""
    transport = delivery_transport(settings)
    links = Links(public_url=settings.effective_public_url.rstrip("/"),
                  bounce_domain=settings.effective_bounce_domain, hostname=settings.hostname,
                  key=signing_key(settings.data_dir, settings.secret))
    attempt = Attempt(transport, AccountCache(client), links,
                      max_queue_age=settings.max_queue_age, **options)
    return Worker(client, attempt, concurrency=settings.delivery_concurrency,
                  takeover=settings.delivery_takeover, retention=settings.message_retention,
                  copy_retention=settings.web_version_retention, hot=hot, pacer=pacer,
                  **options)


async def start_worker(settings: Settings, url: str, *,
                       submission_pids: tuple[int, ...] = ()) -> WorkerRole:
    """The worker of these settings; paced against `submission_pids`, the submission
    processes it shares the machine with (relay.delivery.pacing), if any."""
    client = redis_client(url, timeout=settings.redis_timeout, binary=True)
    pacer = SubmissionPacer(submission_pids) if submission_pids else None
    worker = build_worker(settings, client, hot_client(url, timeout=settings.redis_timeout),
                          pacer=pacer)
    stopping = asyncio.Event()
    task = asyncio.create_task(worker.run(stopping))
    log.info("delivery worker %s started (TIDINGS_DELIVERY=%s)%s", worker.consumer,
             _redacted(settings.delivery),
             f"; it steps aside while submission (pid {', '.join(map(str, pacer.pids))}) "
             "is busy" if pacer else "")
    return WorkerRole(worker, task, stopping, client)


def _redacted(uri: str) -> str:
    """The delivery URI without its password, for logs."""
    head, at, host = uri.rpartition("@")
    if not at:
        return uri
    scheme, _, credentials = head.partition("://")
    return f"{scheme}://{credentials.partition(':')[0]}:***@{host}"


@dataclass
class ApiRole:
    """The HTTP service (uvicorn) running on this loop until `stop`."""

    server: uvicorn.Server
    task: asyncio.Task
    sockets: list[socket.socket]
    redis: aioredis.Redis

    @property
    def port(self) -> int:
        return self.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await self.task
        await self.server.shutdown(sockets=self.sockets)
        await self.redis.aclose()


async def start_api(settings: Settings, url: str) -> ApiRole:
    """Serve the HTTP app on TIDINGS_HTTP_PORT on the running loop.

    The socket is bound here, not by uvicorn, which would exit the process on a port in
    use; uvicorn's serve() is not used either, because it takes over the signal handlers.
    """
    from api.app import create_app  # only the roles that serve HTTP load FastAPI

    sock = _http_socket(settings)
    # Binary-safe: the hosted copy of a message is bytes in any charset.
    client = redis_client(url, timeout=settings.redis_timeout, binary=True)
    app = create_app(redis=client, key=signing_key(settings.data_dir, settings.secret),
                     public_url=settings.effective_public_url.rstrip("/"),
                     admin_token=settings.admin_token)
    config = uvicorn.Config(app, lifespan="off", access_log=False, log_config=None,
                            server_header=False, proxy_headers=True,
                            forwarded_allow_ips=settings.forwarded_allow_ips)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    task = asyncio.create_task(server.main_loop())
    role = ApiRole(server, task, [sock], client)
    log.info("HTTP service on port %s (tracking links, health)", role.port)
    return role


def _http_socket(settings: Settings) -> socket.socket:
    host = settings.bind or "::"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response written in two parts must not wait for
    # the client's delayed ACK (40 ms per request otherwise).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if family == socket.AF_INET6 and not settings.bind:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 too
    try:
        sock.bind((host, settings.http_port))
    except OSError as error:
        sock.close()
        raise StartupError(bind_error("TIDINGS_HTTP_PORT", settings.http_port, error)) from None
    sock.set_inheritable(True)
    return sock


async def start_bounces(settings: Settings, url: str) -> SmtpRole:
    """The bounce listener on TIDINGS_BOUNCE_PORT: the submission protocol without AUTH,
    accepting mail only for our signed VERP addresses."""
    from relay.bounces.listener import BounceHandler

    client = redis_client(url, timeout=settings.redis_timeout)
    handler = BounceHandler(client, key=signing_key(settings.data_dir, settings.secret),
                            bounce_domain=settings.effective_bounce_domain,
                            max_size=settings.max_message_size)
    context = context_for(settings.data_dir, settings.hostname, settings.tls_cert,
                          settings.tls_key)
    factory = protocol_factory(handler, implicit_tls=False, tls_context=context,
                               hostname=settings.hostname, max_size=settings.max_message_size,
                               idle_timeout=settings.smtp_idle_timeout,
                               sessions=SessionCounter(settings.max_sessions_per_ip),
                               proxy_protocol=False)
    try:
        server = await start_listener(factory, host=settings.bind, port=settings.bounce_port,
                                      ssl_context=None, reuse_port=False)
    except OSError as error:
        await client.aclose()
        raise StartupError(bind_error("TIDINGS_BOUNCE_PORT", settings.bounce_port,
                                      error)) from None
    role = SmtpRole([server], client, handler)
    log.info("bounce listener on port %s for *@%s", role.ports[0],
             settings.effective_bounce_domain)
    return role


#: Scheduling priority of delivery workers that share a machine with submission.
WORKER_NICENESS = 10


def delivery_transport(settings: Settings) -> Transport:
    """The transport TIDINGS_DELIVERY names; a problem with it is one line at start-up.

    The parent of forked workers builds one too and drops it (it has opened nothing), so
    such a problem stops start-up there rather than in each worker process."""
    try:
        return transport_from_uri(
            settings.delivery, hostname=settings.hostname, nameservers=settings.nameservers,
            mx_port=settings.mx_port,
            connections_per_destination=settings.connections_per_destination,
            timeout=settings.delivery_timeout)
    except ValueError as error:
        raise StartupError(f"TIDINGS_DELIVERY: {error}") from None


def startup_warnings(settings: Settings) -> list[str]:
    """What an operator should fix before production, said once at start-up (SPEC 1)."""
    warnings = []
    if settings.effective_public_url.startswith("http://"):
        warnings.append(f"TIDINGS_PUBLIC_URL is {settings.effective_public_url}: links in mail "
                        "should use https, which RFC 8058 one-click unsubscribe requires")
    return warnings


def check_ports(settings: Settings) -> None:
    """Bind each submission port once, as the processes will (SO_REUSEPORT), then let go."""
    for setting, port in (("TIDINGS_SMTP_PORT", settings.smtp_port),
                          ("TIDINGS_SMTPS_PORT", settings.smtps_port)):
        for info in socket.getaddrinfo(settings.bind or None, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE):
            with socket.socket(info[0], socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if info[0] == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    probe.bind(info[4])
                except OSError as error:
                    raise StartupError(bind_error(setting, port, error)) from None


def bind_error(setting: str, port: int, error: OSError) -> str:
    if error.errno == errno.EACCES:
        return (f"{setting}: cannot listen on port {port}: permission denied (ports below 1024 "
                f"need root or CAP_NET_BIND_SERVICE); set {setting} to a port above 1023")
    if error.errno == errno.EADDRINUSE:
        return (f"{setting}: port {port} is already in use; stop the other program or "
                f"change {setting}")
    return f"{setting}: cannot listen on port {port}: {error.strerror or error}"


async def run_until_signalled(settings: Settings, url: str, *, roles: tuple[str, ...],
                              submission_pids: tuple[int, ...] = (),
                              compact: bool = False) -> None:
    """Run `roles` on this loop until SIGINT/SIGTERM; with `compact`, also time the
    embedded Redis's compactions (relay.aof_compaction)."""
    client = redis_client(url, timeout=settings.redis_timeout)
    try:
        await recorder.store_retention(client, message_seconds=settings.message_retention,
                                       stats_seconds=settings.stats_retention)
    finally:
        await client.aclose()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = []
    compactor = None
    if compact:
        compactor_redis = redis_client(url, timeout=settings.redis_timeout)
        compactor = asyncio.create_task(compact_when_cheap(compactor_redis, stop))
    try:
        if "smtp" in roles:
            started.append(await start_smtp(settings, url))
        if "worker" in roles:
            started.append(await start_worker(settings, url,
                                              submission_pids=submission_pids))
        if "api" in roles:
            started.append(await start_api(settings, url))
        if "bounces" in roles:
            started.append(await start_bounces(settings, url))
        await stop.wait()
        log.info("stopping")
    finally:
        for role in started:
            await role.stop()
        if compactor is not None:
            compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await compactor
            await compactor_redis.aclose()


def run(settings: Settings, *, roles: tuple[str, ...]) -> None:
    """Run `roles` until SIGINT/SIGTERM, on uvloop where it is installed.

    With TIDINGS_SMTP_PROCESSES > 1, extra submission processes are forked first; they
    share the ports through SO_REUSEPORT, so the kernel spreads connections over them.
    Likewise TIDINGS_WORKER_PROCESSES > 1 forks extra delivery workers, which share the
    queue through the consumer group.
    """
    runner = _event_loop_runner()
    for warning in startup_warnings(settings):
        log.warning("%s", warning)
    # Made at first start, so the key exists (and can be backed up) before any link uses it.
    try:
        signing_key(settings.data_dir, settings.secret)
    except ValueError as error:
        raise StartupError(str(error)) from None
    with redis_url(settings) as url:
        children = []
        if "smtp" in roles and settings.effective_smtp_processes > 1:
            # Fail here, in one line, before any child could fail on its own.
            check_ports(settings)
            # Made once here, so the processes never race to generate the certificate.
            context_for(settings.data_dir, settings.hostname, settings.tls_cert,
                        settings.tls_key)
            children += [_fork_role(settings, url, runner, "smtp")
                         for _ in range(settings.effective_smtp_processes - 1)]
        here = roles
        if "worker" in roles:
            delivery_transport(settings)
            # Delivery is CPU-bound (rendering, DKIM): one process per core uses them all.
            # Beside submission, workers run in processes of their own at a lower priority
            # and pace themselves against submission's processes (relay.delivery.pacing),
            # so that no rendering ever stalls an SMTP session: clients wait on submission,
            # nobody waits on the queue by the millisecond.
            beside_smtp = "smtp" in roles
            count = settings.effective_worker_processes - (0 if beside_smtp else 1)
            submission = (os.getpid(), *children) if beside_smtp else ()
            children += [_fork_role(settings, url, runner, "worker",
                                    niceness=WORKER_NICENESS if beside_smtp else 0,
                                    submission_pids=submission)
                         for _ in range(count)]
            if beside_smtp:
                here = tuple(role for role in roles if role != "worker")
        try:
            # Where mail is written to the embedded Redis, its compactions are timed here.
            runner(run_until_signalled(settings, url, roles=here,
                                       compact="smtp" in roles and not settings.redis_url))
        finally:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            for pid in children:
                os.waitpid(pid, 0)


def _fork_role(settings: Settings, url: str, runner, role: str, *, niceness: int = 0,
               submission_pids: tuple[int, ...] = ()) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        if niceness:
            os.nice(niceness)
        runner(run_until_signalled(settings, url, roles=(role,),
                                   submission_pids=submission_pids))
    except StartupError as error:
        print(f"tidings: {error}", file=sys.stderr)
        code = 1
    except BaseException:
        log.exception("%s process failed", role)
        code = 1
    finally:
        # Never run the parent's clean-up (it owns the embedded Redis).
        os._exit(code)


def _event_loop_runner():
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run
