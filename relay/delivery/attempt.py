"""One delivery attempt as named steps: render, sign, deliver, decide what to record.

Invariant: `attempt` never raises for a message's sake. Whatever goes wrong inside it
(a rendering bug, a signing error, a transport failure) becomes a deferral, so the
message is tried again and never dropped (Postal's outgoing processor does the same).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from relay import tokens
from relay.bounces import verp
from relay.delivery import retry
from relay.delivery.account_cache import AccountCache, DeliveryRules
from relay.delivery.ledger import Finish, QueuedMessage
from relay.delivery.outcome import Kind, Outcome
from relay.delivery.render import Rendered, RenderPlan, render
from relay.delivery.transports import Envelope, Transport
from stats.events import Event, EventName

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Links:
    """Where the links of a message point: the public URL, the bounce domain, the key."""

    public_url: str
    bounce_domain: str
    hostname: str
    key: bytes

    def return_path(self, message_id: str) -> str:
        return verp.encode(self.key, verp.VerpKind.BOUNCE, message_id, self.bounce_domain)

    def plan(self, message_id: str, rules: DeliveryRules) -> RenderPlan:
        mailto = verp.encode(self.key, verp.VerpKind.UNSUBSCRIBE, message_id, self.bounce_domain)
        sign = tokens.signer(self.key, message_id)

        def url(kind: tokens.TokenKind, index: int = 0) -> str:
            return f"{self.public_url}/t/{kind.value}/{sign(kind, index)}"

        kind = tokens.TokenKind
        return RenderPlan(
            message_id=message_id, hostname=self.hostname,
            unsubscribe_url=url(kind.UNSUBSCRIBE), web_version_url=url(kind.WEB),
            list_unsubscribe_mailto=f"mailto:{mailto}",
            unsubscribe_mode=rules.unsubscribe,
            open_pixel_url=url(kind.OPEN) if rules.track_opens else None,
            click_url=(lambda index: url(kind.CLICK, index)) if rules.track_clicks else None)


class Attempt:
    def __init__(self, transport: Transport, accounts: AccountCache, links: Links, *,
                 max_queue_age: float, clock=time.time) -> None:
        self.transport = transport
        self.accounts = accounts
        self.links = links
        self.max_queue_age = max_queue_age
        self.clock = clock

    async def run(self, message: QueuedMessage, rules: DeliveryRules, *,
                  still_ours=lambda: True) -> Finish:
        """Deliver `message` once; `still_ours` is asked last thing before sending."""
        try:
            rendered = render(message.data, self.links.plan(message.id, rules))
            data = await self._sign(message, rendered)
        except Exception:
            log.exception("message %s could not be prepared; deferring it", message.id)
            return self.decide(message, Outcome(Kind.DEFERRED, "451 4.3.0 Internal error "
                                                "while preparing the message"))
        if not still_ours():
            raise ClaimLost(message.id)
        envelope = Envelope(sender=self.links.return_path(message.id),
                            recipient=message.recipient, message_id=message.id)
        outcome = await self.transport.deliver(envelope, data)
        return self.decide(message, outcome, rendered)

    async def _sign(self, message: QueuedMessage, rendered: Rendered) -> bytes:
        domain = message.from_domain or message.sender.rpartition("@")[2]
        signer = await self.accounts.signer(domain) if domain else None
        return signer.sign(rendered.data) if signer else rendered.data

    def decide(self, message: QueuedMessage, outcome: Outcome,
               rendered: Rendered | None = None) -> Finish:
        """The outcome as the ledger records it: deferrals past the queue age expire."""
        now = self.clock()
        attempt = message.attempts + 1
        detail = {"recipient": message.recipient, "reply": outcome.reply,
                  "remote": outcome.remote, "attempt": attempt}
        if outcome.kind is Kind.DELIVERED:
            return Finish("delivered", _event(EventName.DELIVERED, message, now, detail),
                          # Kept only where a [WebVersion] link leads to it: a copy of
                          # every message would double what Redis writes per delivery.
                          hosted_copy=rendered.data if rendered and rendered.web_version
                          else b"",
                          links=rendered.links if rendered else ())
        if outcome.kind is Kind.BOUNCED:
            detail["type"] = "hard" if outcome.hard else "soft"
            return Finish("bounced", _event(EventName.BOUNCED, message, now, detail),
                          hard=outcome.hard)
        when = retry.next_attempt(attempt, message.received, now, self.max_queue_age,
                                  random.random())
        if isinstance(when, retry.Expired):
            detail.update(type="soft", reason="expired",
                          reply=f"{outcome.reply} (deferred for {when.age / 3600:.1f} h, "
                                "longer than TIDINGS_MAX_QUEUE_AGE)")
            return Finish("bounced", _event(EventName.BOUNCED, message, now, detail))
        detail["next_attempt"] = when
        return Finish("deferred", _event(EventName.DEFERRED, message, now, detail),
                      next_attempt=when)

    def suppressed(self, message: QueuedMessage) -> Finish:
        """Suppressed after it was accepted (a bounce or unsubscribe in between): not sent."""
        detail = {"recipient": message.recipient, "reason": "suppressed before delivery"}
        return Finish("suppressed", _event(EventName.SUPPRESSED, message, self.clock(), detail))


class ClaimLost(Exception):
    """Another worker took the message over before we sent it; leave it to them."""


def _event(name: EventName, message: QueuedMessage, now: float, detail: dict) -> Event:
    return Event(name, message.account, message.id, now, detail)
