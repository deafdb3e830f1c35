"""Who is calling the statistics API: the account of the request's `Authorization: Bearer`
API key.

Invariant: this is the only place a request is tied to an account. Every `/v1` handler
takes the account from `AccountDep` and never from the path, query or body, so one
account's key can only ever reach that account's keys in Redis. A missing, malformed,
unknown or revoked key is the same 401, which does not say which it was.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import RedisDep
from relay.store import credentials as credentials_store

#: Declares the scheme in /openapi.json; the check itself is ours, so every failure is 401.
_BEARER = HTTPBearer(auto_error=False, description="An API key: `tid_<key id>_<secret>`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def authenticated_account(
    r: RedisDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> str:
    if credentials is None or not credentials.credentials.strip():
        raise HTTPException(401, "missing API key: send Authorization: Bearer <api key>",
                            headers=_CHALLENGE)
    account = await credentials_store.verify_key(r, credentials.credentials.strip())
    if account is None:
        raise HTTPException(401, "invalid or revoked API key", headers=_CHALLENGE)
    return account


#: The name of the account whose API key authenticated the request.
AccountDep = Annotated[str, Depends(authenticated_account)]
