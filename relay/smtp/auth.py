"""SMTP AUTH PLAIN and LOGIN against the accounts' logins, with throttling per client address.

Invariants: credentials are never logged; every Redis call is bounded by the client's
socket timeout (TIDINGS_REDIS_TIMEOUT) and its failure is a 451; failures from one address
are counted in Redis (shared by every front end), answered ever more slowly, and past the
limit the address gets 421 and is disconnected until the window passes. aiosmtpd itself
only offers AUTH after TLS and answers 538 before it.
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
from relay.redis_client import REDIS_FAILURES
from relay.smtp import replies
from relay.smtp.session import SubmissionSession
from relay.store import credentials

log = logging.getLogger(__name__)


class AuthMechanisms:
    """Mixed into the SMTP handler: aiosmtpd finds `auth_<MECH>` methods on its handler."""

    redis: aioredis.Redis
    # Not named auth_*: aiosmtpd takes every auth_* attribute of the handler for a mechanism.
    max_auth_failures: int
    lockout_seconds: float

    async def handle_AUTH(self, server: SMTP, session: SubmissionSession, envelope, args):
        try:
            failures = int(await self.redis.get(keys.auth_failures(session.client_ip)) or 0)
        except REDIS_FAILURES:
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
            account = await credentials.verify_login(self.redis, login_text, password_text)
        except REDIS_FAILURES:
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
                failures, _ = await pipe.execute()
        except REDIS_FAILURES:
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
