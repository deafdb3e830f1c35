"""GET|POST /v1/suppressions and DELETE /v1/suppressions/{address}: the account's list of
addresses that are never delivered to.

Invariant: addresses are stored lower case, as the acceptance and delivery scripts look
them up; listing walks the set with SSCAN, so no request reads the whole list at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from api.auth import AccountDep
from api.deps import RedisDep
from api.schemas import Page, SuppressionIn, SuppressionOut
from relay.store import suppressions
from stats import query

router = APIRouter(prefix="/v1", tags=["suppressions"])


@router.get("/suppressions", response_model=Page[str])
async def list_suppressions(
    account: AccountDep, r: RedisDep,
    limit: Annotated[int, Query(ge=1, le=query.MAX_LIMIT,
                                description="A hint: a page may hold a few more or fewer")
                     ] = query.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,20}$")] = None,
) -> Page[str]:
    addresses, next_cursor = await suppressions.page(r, account, cursor=int(cursor or 0),
                                                     count=limit)
    return Page[str](items=addresses, next_cursor=str(next_cursor) if next_cursor else None)


@router.post("/suppressions", response_model=SuppressionOut, status_code=201,
             responses={200: {"model": SuppressionOut, "description": "Already suppressed"}})
async def add_suppression(body: SuppressionIn, account: AccountDep, r: RedisDep,
                          response: Response) -> SuppressionOut:
    try:
        address = suppressions.normalize(body.address)
    except suppressions.InvalidAddress as exc:
        raise HTTPException(422, str(exc)) from None
    if not await suppressions.add(r, account, address):
        response.status_code = 200
    return SuppressionOut(address=address)


@router.delete("/suppressions/{address}", status_code=204)
async def remove_suppression(address: str, account: AccountDep, r: RedisDep) -> Response:
    if not await suppressions.remove(r, account, address):
        raise HTTPException(404, f"{address.strip().lower()} is not suppressed")
    return Response(status_code=204)
