"""What the bounce listener writes: bounces and complaints reported by mail, and the
problems with reports that could not be used.

Invariant: a report's event, its day counter and the suppression it causes commit in one
atomic script (`scripts/report.lua`); a report about a message whose record is gone
writes nothing but a line in the operator's log.
"""

from __future__ import annotations

from importlib import resources

import redis.asyncio as aioredis

from relay import keys
from relay.redis_client import Script, text
from relay.store import accounts
from stats import keys as stats_keys
from stats import recorder
from stats.events import Event, EventName

REPORT_SCRIPT = Script(recorder.LIBRARY + resources.files("relay.store").joinpath(
    "scripts/report.lua").read_text())
_LOG_ONLY = recorder.LIBRARY + "record_event('', '', KEYS[1], ARGV[1], ARGV[2])\nreturn 1\n"


async def message_owner(r: aioredis.Redis, message_id: str) -> tuple[str, str] | None:
    """(account, recipient) of a message, None when its record is gone."""
    account, recipient = await r.hmget(keys.message(message_id), "account", "recipient")
    if account is None:
        return None
    return text(account), text(recipient) or ""


async def record(r: aioredis.Redis, *, account: str, message_id: str, recipient: str,
                 kind: EventName, hard: bool, detail: dict, at: float) -> bool:
    """Record a bounce (hard or soft) or a complaint; False when the message is gone."""
    event = Event(kind, account, message_id, at, {"recipient": recipient, **detail})
    write = recorder.prepare(event, timezone=await accounts.timezone(r, account))
    if kind is EventName.BOUNCED:
        counter, suppress = ("bounced_hard" if hard else "bounced_soft"), hard
    else:
        counter, suppress = write.name, True  # a complaint always suppresses (SPEC 6)
    log = stats_keys.log(account) if kind is EventName.BOUNCED else ""
    done = await REPORT_SCRIPT(r, 5, keys.message(message_id), keys.suppressed(account),
                               write.day, write.timeline, log, kind.value,
                               "1" if suppress else "0", counter, write.json,
                               recipient.lower(),
                               ("hard" if hard else "soft") if kind is EventName.BOUNCED else "",
                               repr(at))
    return bool(done)


async def log_problem(r: aioredis.Redis, *, account: str | None, message_id: str | None,
                      reason: str, client_ip: str, at: float) -> None:
    """A report that could not be used goes to the account's log (or the operator's), with
    why: the same place as the SMTP rejections, so it shows in /v1/logs."""
    event = Event(EventName.REJECTED, account, message_id, at,
                  {"reason": "report_not_used", "reply": reason, "client_ip": client_ip})
    # Counted under a name of its own: it is not an SMTP rejection of the customer's mail.
    await r.eval(_LOG_ONLY, 1, stats_keys.log(account), "report_not_used", event.to_json())
