"""GET /v1/logs: the account's SMTP rejections and delivery problems, newest first.

Invariant: only the calling account's log stream is read; the operator's log of
rejections before any login is never shown to an account.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.auth import AccountDep
from api.deps import RedisDep
from api.schemas import LogOut, Page, epoch, utc
from stats import query

router = APIRouter(prefix="/v1", tags=["logs"])


@router.get("/logs", response_model=Page[LogOut])
async def logs(
    account: AccountDep, r: RedisDep,
    since: Annotated[datetime | None, Query(description="ISO 8601 or epoch seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=query.MAX_LIMIT)] = query.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[LogOut]:
    try:
        page = await query.logs(r, account, since=epoch(since), limit=limit, cursor=cursor)
    except query.QueryError as exc:
        raise HTTPException(422, str(exc)) from None
    return Page[LogOut](items=[_entry(entry) for entry in page.items],
                        next_cursor=page.next_cursor)


def _entry(entry: query.LogEntry) -> LogOut:
    detail = entry.event.detail

    def text(name: str) -> str | None:
        value = detail.get(name)
        return None if value in (None, "") else str(value)

    return LogOut(id=entry.id, at=utc(entry.event.at), event=entry.event.name.value,
                  client_ip=text("client_ip"), reply=text("reply"), reason=text("reason"),
                  message_id=entry.event.message_id, sender=text("sender"),
                  recipient=text("recipient"))
