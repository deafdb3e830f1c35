"""SMTP AUTH PLAIN and LOGIN against the accounts' logins, with throttling per client address.

Invariants: credentials are never logged; failures from one address are counted in Redis
(shared by every front end), answered ever more slowly, and past the limit the address
gets 421 and is disconnected until the window passes. aiosmtpd itself only offers AUTH
after TLS and answers 538 before it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging

import redis.asyncio as aioredis
from aiosmtpd.smtp import MISSING, SMTP, AuthResult

from policy.auth import auth_throttle
from relay import keys
from relay.smtp import replies
from relay.smtp.session import SubmissionSession
from relay.store import credentials

log = logging.getLogger(__name__)


class AuthMechanisms:
    """Mixed into the SMTP handler: aiosmtpd finds `auth_<MECH>` methods on its handler."""

    redis: aioredis.Redis
    redis_timeout: float
    # Not named auth_*: aiosmtpd takes every auth_* attribute of the handler for a mechanism.
    max_auth_failures: int
    lockout_seconds: float

    async def handle_AUTH(self, server: SMTP, session: SubmissionSession, envelope, args):
        try:
            failures = int(await asyncio.wait_for(
                self.redis.get(keys.auth_failures(session.client_ip)), self.redis_timeout) or 0)
        except (aioredis.RedisError, OSError, TimeoutError):
            log.exception("AUTH lockout check failed")
            return replies.R451_INTERNAL
        if auth_throttle(failures, max_failures=self.max_auth_failures).locked:
            return _disconnect(server, replies.render(replies.R421_AUTH_LOCKED,
                                                      ip=session.client_ip))
        return MISSING

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        blob = await _initial_or_challenge(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")
        if len(parts) != 3 or (parts[0] and parts[0] != parts[1]):
            return await self._fail(server)
        return await self._check(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        login = await _initial_or_challenge(server, args, "Username:")
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth("Password:")
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._check(server, login, password)

    async def _check(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        session: SubmissionSession = server.session
        try:
            login_text, password_text = login.decode(), password.decode()
        except UnicodeDecodeError:
            return await self._fail(server)
        try:
            account = await asyncio.wait_for(
                credentials.verify_login(self.redis, login_text, password_text),
                self.redis_timeout)
        except (aioredis.RedisError, OSError, TimeoutError):
            log.exception("AUTH lookup failed")
            return AuthResult(success=False, handled=False, message=replies.R451_INTERNAL)
        if account is None:
            return await self._fail(server)
        session.account, session.login = account, login_text.lower()
        log.info("%s authenticated as %s (account %s)", session.client_ip, session.login, account)
        return AuthResult(success=True, auth_data=session.login, message=replies.R235_AUTH_OK)

    async def _fail(self, server: SMTP) -> AuthResult:
        session: SubmissionSession = server.session
        key = keys.auth_failures(session.client_ip)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, int(self.lockout_seconds))
                failures, _ = await asyncio.wait_for(pipe.execute(), self.redis_timeout)
        except (aioredis.RedisError, OSError, TimeoutError):
            log.exception("AUTH failure count failed")
            return AuthResult(success=False, handled=False, message=replies.R451_INTERNAL)
        log.warning("%s failed AUTH (%d in window)", session.client_ip, failures)
        throttle = auth_throttle(failures, max_failures=self.max_auth_failures)
        if throttle.locked:
            reply = replies.render(replies.R421_AUTH_LOCKED, ip=session.client_ip)
            return AuthResult(success=False, handled=False, message=_disconnect(server, reply))
        await asyncio.sleep(throttle.delay)
        return AuthResult(success=False, handled=False, message=replies.R535_AUTH_INVALID)


async def _initial_or_challenge(server: SMTP, args: list[str], challenge: str) -> bytes | None:
    """The client's first response: given with the command, or asked for with a 334."""
    if len(args) > 1:
        if args[1] == "=":  # RFC 4954 4: an empty initial response
            return b""
        try:
            return base64.b64decode(args[1], validate=True)
        except binascii.Error:
            await server.push(replies.R501_BASE64)
            return None
    blob = await server.challenge_auth(challenge)
    return None if blob is MISSING else blob


def _disconnect(server: SMTP, reply: str) -> str:
    """Return `reply` for aiosmtpd to send, and close the connection right after it."""
    transport = server.transport
    if transport is not None:
        asyncio.get_running_loop().call_soon(transport.close)
    return reply
