"""The bounce listener: reports about sent mail arriving by mail, tied to their messages
through the signed VERP address they are sent to (SPEC.md section 6).

Invariants:
- RCPT is accepted only for an address this installation signed (`verp.decode`);
  everything else is `550 5.1.1 No such user`, so nobody can report on a message by
  guessing its id, and the listener relays nothing;
- the session is the submission protocol's (strict CRLF DATA read in blocks, size cap,
  sessions per address, idle timeout), without AUTH;
- a 250 is given only once what the report says is recorded; a report that cannot be
  used is logged with why (the account's log, else the operator's) and still gets 250,
  since sending it again would not help.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from aiosmtpd.smtp import SMTP, Envelope

from relay.bounces import verp
from relay.bounces.reports import (
    BounceReport,
    ComplaintReport,
    Ignored,
    Unparseable,
    parse_report,
)
from relay.redis_client import REDIS_FAILURES
from relay.smtp import replies
from relay.smtp.data_reader import DataResult
from relay.smtp.session import SubmissionSession
from relay.store import bounce_reports, tracking
from stats.events import EventName

log = logging.getLogger(__name__)

#: A report names one message; a few recipients allow a report copied to several.
MAX_RECIPIENTS = 10


class BounceHandler:
    def __init__(self, redis: aioredis.Redis, *, key: bytes, bounce_domain: str,
                 max_size: int) -> None:
        self.redis = redis
        self.key = key
        self.bounce_domain = bounce_domain
        self.max_size = max_size

    async def handle_EHLO(self, server: SMTP, session: SubmissionSession, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        keywords = [f"SIZE {self.max_size}", "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES",
                    "SMTPUTF8"]
        if any(line[4:] == "STARTTLS" for line in responses[1:]):
            keywords.append("STARTTLS")
        lines = [responses[0]] + [f"250-{word}" for word in keywords]
        lines[-1] = "250 " + lines[-1][4:]
        return lines

    async def handle_NOOP(self, server, session, envelope, arg: str) -> str:
        return replies.R250_OK

    async def handle_QUIT(self, server, session, envelope) -> str:
        return replies.R221_BYE

    async def handle_RSET(self, server, session, envelope) -> str:
        return replies.R250_OK

    async def handle_MAIL(self, server, session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        # Reports come from the null sender <> (RFC 3464), feedback loops from anyone.
        if "\x00" in address or any("\x00" in option for option in mail_options):
            return replies.R501_SYNTAX
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return replies.R250_SENDER_OK

    async def handle_RCPT(self, server, session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if verp.decode(self.key, address, self.bounce_domain) is None:
            return replies.R550_NO_SUCH_USER
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return replies.R452_TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        return replies.R250_RECIPIENT_OK

    async def handle_message(self, server, session: SubmissionSession, envelope: Envelope,
                             result: DataResult) -> str:
        if result.too_big:
            return replies.R554_SIZE
        if result.bare_line_ending:
            return replies.render(replies.R554_UNPARSEABLE, reason="bare CR or LF")
        # Parsing is CPU work on untrusted input: off the loop, like submission's.
        report = await asyncio.to_thread(parse_report, result.content)
        for address in envelope.rcpt_tos:
            found = verp.decode(self.key, address, self.bounce_domain)
            await self._apply(found, report, client_ip=session.client_ip)
        return replies.R250_OK

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, REDIS_FAILURES):
            log.error("bounce report not recorded, answered 451: %s", error)
        else:
            log.exception("bounce report not recorded, answered 451")
        return replies.R451_INTERNAL

    async def _apply(self, found: verp.VerpAddress, report, *, client_ip: str) -> None:
        now = time.time()
        if found.kind is verp.VerpKind.UNSUBSCRIBE:
            # The mailto: of List-Unsubscribe: the mail itself is the request.
            await tracking.unsubscribe(self.redis, found.message_id, at=now, client_ip=client_ip)
            return
        owner = await bounce_reports.message_owner(self.redis, found.message_id)
        if owner is None:
            await bounce_reports.log_problem(
                self.redis, account=None, message_id=found.message_id,
                reason="report about a message with no record left", client_ip=client_ip,
                at=now)
            return
        account, recipient = owner
        common = dict(account=account, message_id=found.message_id, recipient=recipient,
                      at=now)
        if isinstance(report, BounceReport):
            await bounce_reports.record(
                self.redis, kind=EventName.BOUNCED, hard=report.hard,
                detail={"type": "hard" if report.hard else "soft", "status": report.status,
                        "reply": report.diagnostic, "source": "report"}, **common)
        elif isinstance(report, ComplaintReport):
            await bounce_reports.record(
                self.redis, kind=EventName.COMPLAINED, hard=False,
                detail={"feedback_type": report.feedback_type,
                        "user_agent": report.user_agent[:200]}, **common)
        elif isinstance(report, Unparseable):
            await bounce_reports.log_problem(
                self.redis, account=account, message_id=found.message_id,
                reason=f"report could not be read: {report.reason}", client_ip=client_ip,
                at=now)
        elif isinstance(report, Ignored):
            log.info("report for %s ignored: %s", found.message_id, report.reason)
