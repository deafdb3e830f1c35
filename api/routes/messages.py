"""GET /v1/messages/{id} and GET /v1/messages: one message with its events, and search.

Invariant: a message of another account and a message that does not exist get the same
404, so ids cannot be probed across accounts; search reads only the caller's indexes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.auth import AccountDep
from api.deps import RedisDep
from api.schemas import EventOut, MessageOut, MessageStatus, MessageSummary, Page, epoch
from relay.store import account_view
from stats import query
from stats.events import Event

router = APIRouter(prefix="/v1", tags=["messages"])
#: Events that finish a message, for the status of one whose record has expired.
_FINAL = ("delivered", "bounced", "suppressed")


@router.get("/messages/{message_id}", response_model=MessageOut)
async def message(message_id: str, account: AccountDep, r: RedisDep) -> MessageOut:
    found = await query.message(r, account, message_id, message_key=account_view.message_key)
    if found is None:
        raise HTTPException(404, f"no message {message_id}")
    record, events = found
    record = record or _from_events(events)
    summary = MessageSummary.of(record, message_id)
    return MessageOut(**summary.model_dump(), bounce=record.get("bounce"),
                      attempts=int(record.get("attempts") or 0),
                      events=[EventOut(name=e.name.value, at=datetime.fromtimestamp(e.at, UTC),
                                       detail=e.detail) for e in events])


@router.get("/messages", response_model=Page[MessageSummary])
async def search(
    account: AccountDep, r: RedisDep,
    recipient: str | None = None,
    status: MessageStatus | None = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 or epoch seconds")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 or epoch seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=query.MAX_LIMIT)] = query.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[MessageSummary]:
    try:
        page = await query.search(r, account, message_key=account_view.message_key,
                                  recipient=recipient.strip().lower() if recipient else None,
                                  status=status, since=epoch(since), until=epoch(until),
                                  limit=limit, cursor=cursor)
    except query.QueryError as exc:
        raise HTTPException(422, str(exc)) from None
    return Page[MessageSummary](items=[MessageSummary.of(rec, rec["id"]) for rec in page.items],
                                next_cursor=page.next_cursor)


def _from_events(events: list[Event]) -> dict[str, str]:
    """The record of a message whose hash expired, from its `accepted` event."""
    accepted = events[0]
    record = {name: str(value) for name, value in accepted.detail.items()}
    finals = [e.name.value for e in events if e.name.value in _FINAL]
    return {**record, "received": repr(accepted.at),
            "status": finals[-1] if finals else "expired"}
