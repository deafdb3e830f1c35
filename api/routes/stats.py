"""GET /v1/stats: the account's counters over a range of its local days.

Invariant: days are the account's own (its `timezone`), as the events were counted, and
a range is at most `stats.query.MAX_DAYS` days, so one request reads a bounded number of
hashes.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.auth import AccountDep
from api.deps import RedisDep
from api.schemas import Counts, DayOut, StatsOut
from relay.store import accounts
from stats import query

router = APIRouter(prefix="/v1", tags=["statistics"])


@router.get("/stats", response_model=StatsOut)
async def stats(
    account: AccountDep, r: RedisDep,
    date_from: Annotated[date | None, Query(alias="from", description="First local day, YYYY-MM-DD; default 29 days before `to`")] = None,  # noqa: E501
    date_to: Annotated[date | None, Query(alias="to", description="Last local day, YYYY-MM-DD; default today")] = None,  # noqa: E501
) -> StatsOut:
    tz = await accounts.timezone(r, account)
    first, last = query.recent_days(tz, time.time())
    date_to = date_to or (last if date_from is None else max(last, date_from))
    date_from = date_from or min(first, date_to)
    try:
        totals, series = await query.stats_range(r, account, date_from, date_to)
    except query.QueryError as exc:
        raise HTTPException(422, str(exc)) from None
    return StatsOut(from_=date_from, to=date_to, timezone=tz, totals=Counts(**totals),
                    series=[DayOut(date=day, **counts) for day, counts in series])
