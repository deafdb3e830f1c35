"""Helpers for the statistics API tests: the Bearer header, and messages accepted straight
through the acceptance script at chosen times."""

from __future__ import annotations

import asyncio

from relay import keys, queue
from relay.redis_client import redis_client
from relay.store.messages import AcceptedMessage, new_message_id


def bearer(account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.api_key}"}


def accept(redis_url: str, account: str, recipients_at: list[tuple[str, float]]) -> list[str]:
    """Accept one message per (recipient, received time) as the SMTP front end would; ids."""

    async def run() -> list[str]:
        client = redis_client(redis_url, timeout=5, binary=True)
        try:
            version = await client.get(keys.version(account))
            ids = []
            for recipient, received in recipients_at:
                message = AcceptedMessage(
                    id=new_message_id(received), account=account, login=account,
                    sender="news@shop.example", recipient=recipient, client_ip="192.0.2.1",
                    received=received, subject=f"to {recipient}",
                    data=b"Subject: s\r\n\r\nbody\r\n")
                await queue.accept(client, message, detail={"recipient": recipient},
                                   timezone="UTC", rules_version=(version or b"").decode())
                ids.append(message.id)
            return ids
        finally:
            await client.aclose()

    return asyncio.run(run())
