"""Accepted messages: metadata and raw bytes by id, written in the same MULTI as the enqueue.

Message ids sort by acceptance time (48-bit milliseconds, then 80 random bits, in
Crockford base32, 26 characters), so they are unique across any number of front ends
without coordination and readable in logs. The raw bytes are binary-safe: read them
back with a client made with `decode_responses=False`. The write itself is in relay/queue.py.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass

#: RFC 4648 base32 turned into the Crockford alphabet, whose ASCII order is its numeric
#: order, so ids sort by time as strings.
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                             b"0123456789abcdefghjkmnpqrstvwxyz")


def new_message_id(now: float | None = None) -> str:
    millis = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    raw = millis.to_bytes(6, "big") + secrets.token_bytes(10)
    return base64.b32encode(raw)[:26].translate(_CROCKFORD).decode()


@dataclass(frozen=True)
class AcceptedMessage:
    id: str
    account: str
    login: str
    sender: str
    recipient: str
    client_ip: str
    received: float
    subject: str
    data: bytes
    #: Domain of the From: header, whose DKIM key signs the message.
    from_domain: str = ""


def record_fields(message: AcceptedMessage) -> dict[str, str]:
    """The message hash's fields but `status` and `data`, which the writer sets."""
    return {
        "account": message.account,
        "login": message.login,
        "sender": message.sender,
        "recipient": message.recipient,
        "client_ip": message.client_ip,
        "received": repr(message.received),
        "subject": message.subject,
        "size": str(len(message.data)),
        "from_domain": message.from_domain,
    }
