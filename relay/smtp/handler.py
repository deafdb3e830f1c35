"""The submission handler: gather facts, ask the policy, answer with a line from the reply table.

Invariants:
- never a 250 for mail that is not stored: `250 ... queued as <id>` is returned only after
  the atomic script that stores and enqueues the message has returned;
- every Redis call is bounded by the client's socket timeout (TIDINGS_REDIS_TIMEOUT);
- every failure that is not a rule (Redis down or slow, a bug) is 451 4.3.0, so the client
  retries and nothing is lost, and the server keeps running;
- every rejection is recorded with client address, reply and rule.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from aiosmtpd.smtp import SMTP, Envelope

from policy.facts import MailFacts, MessageFacts, RateFacts
from policy.stages import check_data, check_mail, check_rcpt
from policy.verdict import Rule, Verdict, reject
from relay import queue
from relay.redis_client import REDIS_FAILURES
from relay.smtp import replies
from relay.smtp.auth import AuthMechanisms
from relay.smtp.data_reader import DataResult
from relay.smtp.message_facts import UnparseableMessage, inspect_message
from relay.smtp.rules_cache import Judged, RulesCache
from relay.smtp.session import SubmissionSession
from relay.store import messages
from stats import recorder
from stats.events import Event, EventName

log = logging.getLogger(__name__)

#: Messages up to this size are inspected on the event loop (bounded, well under 1 ms);
#: larger ones in a thread so that no session waits behind them.
INLINE_PARSE_LIMIT = 64 * 1024
#: Judging a transaction again after its account's rules changed: this many times at most.
MAX_REJUDGE = 3
BARE_LINE_REASON = "bare CR or LF in message data (lines must end in CRLF)"
#: How MAIL is judged in a session that has not logged in: by no rules at all.
NOT_LOGGED_IN = Judged(None, "", RateFacts())


class SubmissionHandler(AuthMechanisms):
    def __init__(self, *, redis: aioredis.Redis, max_size: int,
                 max_auth_failures: int, lockout_seconds: float, queue_redis=None):
        self.redis = redis
        #: Where the acceptance script runs: relay.redis_client.hot_client in production.
        self.queue_redis = queue_redis or redis
        self.max_size = max_size
        self.max_auth_failures = max_auth_failures
        self.lockout_seconds = lockout_seconds
        self.rules = RulesCache(redis)

    async def handle_EHLO(self, server: SMTP, session: SubmissionSession, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        offered = [line[4:] for line in responses[1:]]
        keywords = [f"SIZE {self.max_size}", "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES",
                    "SMTPUTF8"]
        if "STARTTLS" in offered:
            keywords.append("STARTTLS")
        if any(word.startswith("AUTH ") for word in offered):
            keywords.append("AUTH PLAIN LOGIN")
        lines = [responses[0]] + [f"250-{word}" for word in keywords]
        lines[-1] = "250 " + lines[-1][4:]
        return lines

    async def handle_PROXY(self, server: SMTP, session: SubmissionSession, envelope: Envelope,
                           proxy_data) -> bool:
        if server.implicit_tls:
            await server.begin_implicit_tls()
        return True

    async def handle_NOOP(self, server: SMTP, session: SubmissionSession, envelope: Envelope,
                          arg: str):
        return replies.R250_OK

    async def handle_QUIT(self, server: SMTP, session: SubmissionSession, envelope: Envelope):
        return replies.R221_BYE

    async def handle_RSET(self, server: SMTP, session: SubmissionSession, envelope: Envelope):
        session.reset_transaction()
        return replies.R250_OK

    async def handle_MAIL(self, server: SMTP, session: SubmissionSession, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if _has_nul(address, mail_options):
            session.reset_transaction()
            return replies.R501_SYNTAX
        judged = (await self.rules.load(session.account) if session.account is not None
                  else NOT_LOGGED_IN)
        verdict = self._judge_mail(session, envelope, address, mail_options, judged)
        if not verdict.accepted:
            return await self._reject(session, verdict, sender=address)
        return replies.R250_SENDER_OK

    def mail_now(self, session: SubmissionSession, envelope: Envelope, address: str,
                 mail_options: list[str]) -> str | None:
        """MAIL answered without waiting, for the protocol's transaction lane: the reply
        when cached rules accept it, else None and `handle_MAIL` decides (it reads the
        rules from Redis, and records a refusal there), judging afresh."""
        judged = self.rules.cached(session.account) if session.account is not None else None
        if judged is None or _has_nul(address, mail_options):
            return None
        verdict = self._judge_mail(session, envelope, address, mail_options, judged)
        return replies.R250_SENDER_OK if verdict.accepted else None

    def _judge_mail(self, session: SubmissionSession, envelope: Envelope, address: str,
                    mail_options: list[str], judged: Judged) -> Verdict:
        """A new transaction judged by `judged`; the envelope takes the sender if accepted."""
        session.reset_transaction()
        session.rules, session.rules_version = judged.rules, judged.version
        mail = MailFacts(sender=address, declared_size=_declared_size(mail_options),
                         smtputf8=envelope.smtp_utf8)
        session.mail = mail
        verdict = check_mail(session.facts(), mail, judged.rate, max_size=self.max_size)
        if verdict.accepted:
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        return verdict

    async def handle_RCPT(self, server: SMTP, session: SubmissionSession, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        verdict = self._judge_rcpt(session, envelope, address, rcpt_options)
        if not verdict.accepted:
            return await self._reject(session, verdict, sender=envelope.mail_from,
                                      recipient=address)
        return replies.R250_RECIPIENT_OK

    def rcpt_now(self, session: SubmissionSession, envelope: Envelope, address: str,
                 rcpt_options: list[str]) -> str | None:
        """RCPT answered without waiting, as `mail_now`: None when it is refused."""
        verdict = self._judge_rcpt(session, envelope, address, rcpt_options)
        return replies.R250_RECIPIENT_OK if verdict.accepted else None

    def _judge_rcpt(self, session: SubmissionSession, envelope: Envelope, address: str,
                    rcpt_options: list[str]) -> Verdict:
        verdict = check_rcpt(session.facts(), address, smtputf8=envelope.smtp_utf8,
                             accepted_so_far=len(envelope.rcpt_tos))
        if verdict.accepted:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return verdict

    async def handle_message(self, server: SMTP, session: SubmissionSession,
                             envelope: Envelope, result: DataResult) -> str:
        """End of DATA: the last rules, then the durable write and the 250."""
        facts, verdict = await self._judge(session, result)
        if not verdict.accepted:
            return await self._reject(session, verdict, sender=envelope.mail_from,
                                      recipient=envelope.rcpt_tos[0])
        return await self._accept(session, envelope, result.content, facts)

    async def handle_exception(self, error: Exception) -> str:
        return self.exception_reply(error)

    def exception_reply(self, error: Exception) -> str:
        """451 for whatever failed that is not a rule, so the client retries."""
        if isinstance(error, REDIS_FAILURES):
            log.error("SMTP transaction failed, answered 451: %s: %s",
                      type(error).__name__, error)
        else:
            log.exception("SMTP transaction failed, answered 451", exc_info=error)
        return replies.R451_INTERNAL

    async def _judge(self, session: SubmissionSession,
                     result: DataResult) -> tuple[MessageFacts | None, Verdict]:
        if result.too_big:
            return None, reject(Rule.SIZE_EXCEEDED)
        if result.bare_line_ending:
            return None, reject(Rule.BARE_LINE_ENDING, reason=BARE_LINE_REASON)
        try:
            facts = await _inspect(result.content)
        except UnparseableMessage as error:
            return None, reject(Rule.UNPARSEABLE, reason=error.reason)
        verdict = check_data(session.rules, facts, size=len(result.content),
                             max_size=self.max_size)
        return facts, verdict

    async def _accept(self, session: SubmissionSession, envelope: Envelope, data: bytes,
                      facts: MessageFacts) -> str:
        now = time.time()
        rules = session.rules
        message = messages.AcceptedMessage(
            id=messages.new_message_id(now), account=rules.name, login=session.login or "",
            sender=envelope.mail_from, recipient=envelope.rcpt_tos[0],
            client_ip=session.client_ip, received=now, subject=facts.subject, data=data,
            from_domain=_domain(facts.from_addresses))
        detail = {"sender": message.sender, "recipient": message.recipient,
                  "size": len(data), "subject": facts.subject, "client_ip": message.client_ip}
        for _ in range(MAX_REJUDGE):
            try:
                # Whether the recipient is suppressed is decided inside the same atomic write.
                await queue.accept(self.queue_redis, message, detail=detail,
                                   timezone=rules.timezone, rules_version=session.rules_version)
            except queue.RulesChanged:
                verdict = await self._judge_again(session, envelope, facts, len(data))
                if not verdict.accepted:
                    return await self._reject(session, verdict, sender=message.sender,
                                              recipient=message.recipient)
                continue
            return replies.render(replies.R250_QUEUED, id=message.id)
        raise RuntimeError(f"rules of {rules.name} kept changing during one transaction")

    async def _judge_again(self, session: SubmissionSession, envelope: Envelope,
                           facts: MessageFacts, size: int) -> Verdict:
        """The account's rules changed after MAIL: the whole transaction by the new ones."""
        judged = await self.rules.reload(session.rules.name)
        session.rules, session.rules_version = judged.rules, judged.version
        verdict = check_mail(session.facts(), session.mail, judged.rate, max_size=self.max_size)
        if verdict.accepted:
            verdict = check_rcpt(session.facts(), envelope.rcpt_tos[0],
                                 smtputf8=envelope.smtp_utf8, accepted_so_far=0)
        if verdict.accepted:
            verdict = check_data(judged.rules, facts, size=size, max_size=self.max_size)
        return verdict

    async def _reject(self, session: SubmissionSession, verdict: Verdict, *, sender: str = "",
                      recipient: str = "") -> str:
        reply = replies.for_verdict(verdict)
        detail = {"client_ip": session.client_ip, "reply": reply, "reason": verdict.rule.value,
                  "sender": sender or "", "recipient": recipient}
        account = session.rules.name if session.rules else session.account
        timezone = session.rules.timezone if session.rules else "UTC"
        try:
            await recorder.record(self.redis, Event(EventName.REJECTED, account, detail=detail),
                                  timezone=timezone)
        except REDIS_FAILURES as error:
            # The rejection stands whether or not it could be logged.
            log.error("could not record rejection %s: %s", verdict.rule, error)
        log.info("%s rejected: %s", session.client_ip, reply)
        return reply


async def _inspect(data: bytes) -> MessageFacts:
    if len(data) <= INLINE_PARSE_LIMIT:
        return inspect_message(data)
    return await asyncio.get_running_loop().run_in_executor(None, inspect_message, data)


def _has_nul(address: str, options: list[str]) -> bool:
    return "\x00" in address or any("\x00" in option for option in options)


def _declared_size(mail_options: list[str]) -> int | None:
    for option in mail_options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return None


def _domain(addresses: tuple[str, ...]) -> str:
    return addresses[0].rpartition("@")[2].lower() if addresses else ""
