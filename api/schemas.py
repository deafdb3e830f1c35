"""The shapes of the statistics API's answers, as they appear in /openapi.json.

Invariant: handlers return these models and nothing else, so a field reaches a client
only when it is declared here: a message's raw bytes, login or internal marks never do.
Times are ISO 8601 in UTC; counters are integers, 0 when nothing happened.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
#: A message's state, as the acceptance and delivery scripts set it.
MessageStatus = Literal["queued", "deferred", "delivered", "bounced", "suppressed"]


def utc(seconds: float | str) -> datetime:
    return datetime.fromtimestamp(float(seconds), UTC)


def epoch(moment: datetime | None) -> float | None:
    """Epoch seconds of a query time; one without a zone is taken as UTC."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class Counts(BaseModel):
    accepted: int = 0
    rejected: int = 0
    suppressed: int = 0
    delivered: int = 0
    deferred: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    opened: int = 0
    opened_unique: int = 0
    clicked: int = 0
    clicked_unique: int = 0
    unsubscribed: int = 0
    complained: int = 0


class DayOut(Counts):
    #: The local day of the account's timezone.
    date: date


class StatsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    timezone: str
    totals: Counts
    series: list[DayOut]


class EventOut(BaseModel):
    name: str
    at: datetime
    #: What the event's readers show: reply, host, attempt, link, type of bounce...
    detail: dict[str, str | int | float | bool | None]


class MessageSummary(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    from_: str = Field(alias="from")
    to: str
    subject: str
    size: int
    status: str
    received: datetime | None

    @classmethod
    def of(cls, record: dict[str, str], message_id: str) -> MessageSummary:
        received = record.get("received")
        return cls(id=message_id, from_=record.get("sender", ""),
                   to=record.get("recipient", ""), subject=record.get("subject", ""),
                   size=int(record.get("size") or 0), status=record.get("status", "expired"),
                   received=utc(received) if received else None)


class MessageOut(MessageSummary):
    #: `hard` or `soft` for a bounced message.
    bounce: str | None = None
    attempts: int = 0
    events: list[EventOut]


class Page(BaseModel, Generic[T]):
    items: list[T]
    #: Pass as `cursor` for the next page; null when this page is the last.
    next_cursor: str | None


class LogOut(BaseModel):
    id: str
    at: datetime
    event: str
    client_ip: str | None = None
    reply: str | None = None
    #: The rule that refused, or the reason of a problem.
    reason: str | None = None
    message_id: str | None = None
    sender: str | None = None
    recipient: str | None = None


class SuppressionIn(BaseModel):
    address: str = Field(min_length=3, max_length=254, examples=["alice@example.com"])


class SuppressionOut(BaseModel):
    address: str
