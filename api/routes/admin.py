"""The admin API under `/admin/v1/`: the operations of `tidings account`, over HTTP.

Invariants: every route calls the same `relay.store` function its CLI command calls, so
both front ends accept, refuse and store exactly alike. Every request presents
TIDINGS_ADMIN_TOKEN as a bearer token, compared in constant time; anything else is a 401
that names no account. Without the setting `create_app` leaves this router out, so every
/admin path is a 404 as if it did not exist. A refused operation is a 404 (no such
account) or a 422, carrying the one-line message the CLI prints.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from api.admin_schemas import (
    AccountCreated,
    AccountIn,
    AccountList,
    AccountOut,
    KeyCreated,
    LoginCreated,
    LoginIn,
    NetworkIn,
    NetworkList,
    NetworkOut,
    RulesIn,
    SenderIn,
    SenderList,
    SenderOut,
)
from api.deps import RedisDep
from relay.store import accounts, credentials

#: The Authorization scheme the admin API takes; also what the 401s advertise.
CHALLENGE = {"WWW-Authenticate": "Bearer"}

_bearer = HTTPBearer(auto_error=False, scheme_name="admin token",
                     description="TIDINGS_ADMIN_TOKEN")


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    token: str | None = request.app.state.admin_token
    if not token:
        # Only reachable if the router was mounted without a token: still absent.
        raise HTTPException(404, "Not Found")
    if credentials is None:
        raise HTTPException(401, "missing admin token: send Authorization: Bearer "
                                 "<TIDINGS_ADMIN_TOKEN>", headers=CHALLENGE)
    # Bytes: compare_digest refuses str with non-ASCII characters, which a client can send.
    if not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(401, "invalid admin token", headers=CHALLENGE)


async def text_redis(r: RedisDep) -> AsyncIterator[aioredis.Redis]:
    """A decoding client to the app's Redis, for the length of one request.

    The app's client is binary-safe, and `relay.store` was written for str replies (it
    compares `HGET` results with names and reads hashes by str keys). Decoding belongs to
    a connection, so this opens its own, with the app's connection settings; admin calls
    are rare, and a client per request is closed by its request, where one kept on the app
    would outlive it (the app has no shutdown hook to close it).
    """
    pool = r.connection_pool
    client = aioredis.Redis.from_pool(aioredis.ConnectionPool(
        connection_class=pool.connection_class, max_connections=4,
        **{**pool.connection_kwargs, "decode_responses": True}))
    try:
        yield client
    finally:
        await client.aclose()


TextRedis = Annotated[aioredis.Redis, Depends(text_redis)]


class AdminRoute(APIRoute):
    """Translates the store's refusals once, for every admin route, and keeps responses
    (some of which carry a secret shown once) out of every cache."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def translated(request: Request) -> Response:
            try:
                response = await handler(request)
            except accounts.AccountNotFound as exc:
                raise HTTPException(404, str(exc)) from None
            except accounts.AccountError as exc:
                raise HTTPException(422, str(exc)) from None
            response.headers["Cache-Control"] = "no-store"
            return response

        return translated


router = APIRouter(prefix="/admin/v1", tags=["admin"], route_class=AdminRoute,
                   dependencies=[Depends(require_admin)])


@router.get("/accounts")
async def list_accounts(r: TextRedis) -> AccountList:
    return AccountList(accounts=await accounts.list_names(r))


@router.post("/accounts", status_code=201)
async def create_account(body: AccountIn, r: TextRedis) -> AccountCreated:
    """As `tidings account create`: the account, a login and an API key."""
    name = await accounts.create(r, body.name, timezone=body.timezone)
    try:
        login = await credentials.create_login(r, name, name)
    except accounts.AccountError:
        # Another account already has a login of this name: make a fresh one.
        login = await credentials.create_login(r, name)
    key = await credentials.create_key(r, name)
    return AccountCreated(account=name, login=login.login, password=login.password,
                          api_key=key.key, api_key_id=key.key_id)


@router.get("/accounts/{name}")
async def show_account(name: str, r: TextRedis) -> AccountOut:
    return AccountOut(**await accounts.show(r, name))


@router.patch("/accounts/{name}")
async def change_rules(name: str, body: RulesIn, r: TextRedis) -> AccountOut:
    await accounts.change(r, name, accounts.RuleChanges(
        timezone=body.timezone, rate=body.rate, unsubscribe=body.unsubscribe,
        track_opens=_switch(body.track_opens), track_clicks=_switch(body.track_clicks)))
    return AccountOut(**await accounts.show(r, name))


@router.get("/accounts/{name}/senders")
async def list_senders(name: str, r: TextRedis) -> SenderList:
    return SenderList(senders=await accounts.list_senders(r, name))


@router.post("/accounts/{name}/senders", status_code=201)
async def add_sender(name: str, body: SenderIn, r: TextRedis) -> SenderOut:
    return SenderOut(sender=await accounts.add_sender(r, name, body.address))


@router.delete("/accounts/{name}/senders/{address}", status_code=204)
async def remove_sender(name: str, address: str, r: TextRedis) -> None:
    await accounts.remove_sender(r, name, address)


@router.get("/accounts/{name}/ips")
async def list_ips(name: str, r: TextRedis) -> NetworkList:
    return NetworkList(ips=await accounts.list_ips(r, name))


@router.post("/accounts/{name}/ips", status_code=201)
async def allow_ip(name: str, body: NetworkIn, r: TextRedis) -> NetworkOut:
    return NetworkOut(ip=await accounts.allow_ip(r, name, body.cidr))


# `:path`, because the server decodes %2F before routing: 10.0.0.0%2F8 arrives with a slash.
@router.delete("/accounts/{name}/ips/{cidr:path}", status_code=204)
async def deny_ip(name: str, cidr: str, r: TextRedis) -> None:
    await accounts.deny_ip(r, name, cidr)


@router.post("/accounts/{name}/logins", status_code=201)
async def create_login(name: str, r: TextRedis, body: LoginIn | None = None) -> LoginCreated:
    login = await credentials.create_login(r, name, body.login if body else None)
    return LoginCreated(login=login.login, password=login.password)


@router.delete("/accounts/{name}/logins/{login}", status_code=204)
async def revoke_login(name: str, login: str, r: TextRedis) -> None:
    await credentials.revoke_login(r, name, login)


@router.post("/accounts/{name}/keys", status_code=201)
async def create_key(name: str, r: TextRedis) -> KeyCreated:
    key = await credentials.create_key(r, name)
    return KeyCreated(key_id=key.key_id, api_key=key.key)


@router.delete("/accounts/{name}/keys/{key_id}", status_code=204)
async def revoke_key(name: str, key_id: str, r: TextRedis) -> None:
    await credentials.revoke_key(r, name, key_id)


def _switch(value: bool | None) -> str | None:
    """JSON's true/false as the store's on/off; None leaves the switch as it is."""
    return None if value is None else ("on" if value else "off")
