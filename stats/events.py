"""The closed vocabulary of events (SPEC.md section 5) and the event value every decision emits."""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass, field

#: One encoder for every event: json.dumps with options builds a new one on each call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class EventName(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SUPPRESSED = "suppressed"
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    COMPLAINED = "complained"


@dataclass(frozen=True)
class Event:
    """One thing that happened; `detail` carries what the event's readers show.

    For `rejected`: client_ip, reply and reason (the rule name); for `accepted` and
    `suppressed`: sender, recipient, size, subject.
    """

    name: EventName
    #: None when no account is known yet (a rejection before AUTH): goes to the operator log.
    account: str | None
    message_id: str | None = None
    at: float = field(default_factory=time.time)
    detail: dict[str, str | int] = field(default_factory=dict)

    def to_json(self) -> str:
        # Not dataclasses.asdict: it deep-copies, and this runs for every message.
        return _ENCODER.encode({"name": self.name.value, "account": self.account,
                                "message_id": self.message_id, "at": self.at,
                                "detail": self.detail})

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        raw = json.loads(text)
        return cls(name=EventName(raw["name"]), account=raw["account"],
                   message_id=raw["message_id"], at=raw["at"], detail=raw["detail"])
