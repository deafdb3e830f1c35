"""`tidings demo`: a newcomer's tour on one machine, with nothing to configure.

It starts Tidings on free local ports with its own embedded Redis in a fresh directory,
creates a demo account with a DKIM key, sends messages through real SMTP with STARTTLS
and AUTH (some that pass, some that break a rule), lets the delivery worker render, sign
and deliver them into a local Maildir, opens one and clicks its link over HTTP as a mail
program would, and prints what happened and where to look.
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import http.client
import json
import re
import ssl
import tempfile
import urllib.parse
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from relay import keys
from relay.dkim_keys import generate
from relay.redis_client import redis_client
from relay.redis_embedded import EmbeddedRedis
from relay.roles import build_worker, start_api, start_smtp
from relay.settings import Settings
from relay.store import accounts, credentials
from relay.store import dkim as dkim_store
from stats import keys as stats_keys

SENDER = "hello@demo.example"


def run_demo(settings: Settings) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="tidings-demo-"))
    demo_settings = settings.model_copy(update={
        "data_dir": data_dir, "smtp_port": 0, "smtps_port": 0, "http_port": 0,
        "bind": "127.0.0.1",
        "hostname": "localhost", "redis_url": None,
        "delivery": f"maildir://{data_dir / 'Maildir'}"})
    embedded = EmbeddedRedis(data_dir)
    url = embedded.acquire()
    try:
        asyncio.run(_tour(demo_settings, url))
    finally:
        embedded.release()
    print(f"\nEverything the demo wrote is in {data_dir} (delete it when you are done).")
    return 0


async def _tour(settings: Settings, url: str) -> None:
    role = await start_smtp(settings, url)
    api = await start_api(settings, url)
    # Links in the demo's mail lead to the demo's own HTTP service.
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{api.port}"})
    client = redis_client(url, timeout=5)
    try:
        port = role.ports[0]
        login, api_key = await _demo_account(client)
        print(f"Tidings is listening on 127.0.0.1:{port} (STARTTLS) and "
              f"127.0.0.1:{role.ports[1]} (TLS), HTTP on {settings.public_url}, with an "
              f"embedded Redis in {settings.data_dir}")
        print(f"Account 'demo' created: login {login.login}, confirmed sender @demo.example\n")
        await client.sadd(keys.suppressed("demo"), "unsubscribed@example.com")
        for title, message in _messages():
            reply = await _send(port, login, message)
            print(f"  {title:<46} -> {reply}")
        delivered = await _deliver(settings, url)
        if delivered is not None:
            await _open_and_click(delivered)
        await _summary(settings.public_url, api_key, url.removeprefix("unix://"))
    finally:
        await client.aclose()
        await api.stop()
        await role.stop()


async def _demo_account(client) -> tuple[credentials.Login, str]:
    await accounts.create(client, "demo")
    await accounts.add_sender(client, "demo", "@demo.example")
    await dkim_store.save(client, generate("demo.example"), replace=True)
    login = await credentials.create_login(client, "demo", "demo")
    return login, (await credentials.create_key(client, "demo")).key


def _messages():
    welcome = _message("alice@example.com", "Welcome aboard",
                       "Hi Alice, thanks for signing up.\n\n[Unsubscribe]\n")
    welcome.add_alternative(
        "<html><body><p>Hi Alice, thanks for signing up.</p>"
        '<p><a href="https://demo.example/start?from=welcome">Get started</a></p>'
        '<p><a href="[Unsubscribe]">Unsubscribe</a></p></body></html>', subtype="html")
    yield "a welcome mail to alice@example.com", welcome
    spoofed = _message("bob@example.com", "Hi", "Hello\n", sender="ceo@elsewhere.example")
    yield "From: a sender the account has not confirmed", spoofed
    invoice = _message("carol@example.com", "Your invoice", "Attached.\n")
    invoice.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf",
                           filename="invoice.pdf")
    yield "a PDF attachment", invoice
    gone = _message("unsubscribed@example.com", "News", "Hello again\n")
    yield "to an address that unsubscribed", gone


def _message(to: str, subject: str, body: str, *, sender: str = SENDER) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(body)
    return message


async def _send(port: int, login: credentials.Login, message: EmailMessage) -> str:
    # The demo's certificate is self-signed, so the demo client does not verify it.
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=True,
                                   tls_context=context) as smtp:
            await smtp.login(login.login, login.password)
            _, reply = await smtp.send_message(message, sender=SENDER,
                                               recipients=[message["To"]])
            return f"250 {reply}"
    except aiosmtplib.SMTPResponseException as error:
        return f"{error.code} {error.message}"


async def _deliver(settings: Settings, url: str) -> Path | None:
    """Run the delivery worker until the queue is empty, then show one delivered message."""
    client = redis_client(url, timeout=5, binary=True)
    worker = build_worker(settings, client)
    try:
        await worker.drain()
    finally:
        await worker.attempt.transport.close()
        await client.aclose()
    maildir = settings.data_dir / "Maildir" / "new"
    delivered = sorted(maildir.iterdir()) if maildir.is_dir() else []
    print(f"\nThe delivery worker rendered, DKIM-signed and delivered {len(delivered)} "
          f"message(s) into {maildir.parent}")
    if delivered:
        print(f"  {delivered[0]}:")
        wanted = ("return-path", "dkim-signature", "list-unsubscribe", "list-unsubscribe-post",
                  "message-id")
        for line in delivered[0].read_text(errors="replace").splitlines():
            if not line:
                break
            if line.split(":", 1)[0].lower() in wanted:
                print(f"    {line[:100]}")
    return delivered[0] if delivered else None


async def _open_and_click(delivered: Path) -> None:
    """Do what the recipient's mail program does: load the pixel, follow the first link."""
    message = email.message_from_bytes(delivered.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",))
    if html is None:
        return
    content = html.get_content()
    pixel = re.search(r'src="(http://[^"]+/t/o/[^"]+)"', content)
    link = re.search(r'href="(http://[^"]+/t/c/[^"]+)"', content)
    # Hits within two seconds of delivery look like a link scanner's and do not count as
    # unique opens or clicks (api/prefetch.py); a person takes longer than that.
    await asyncio.sleep(2.5)
    print("\nA moment later the recipient opens the message and clicks its link:")
    for title, found in (("open pixel", pixel), ("tracked link", link)):
        if found:
            status, where = await asyncio.to_thread(_get, found[1])
            shown = where if status == 302 else "OK" if status == 200 else where[:60]
            print(f"  GET {found[1][:60]}... ({title}) -> {status} {shown}")


def _get(url: str, headers: dict | None = None) -> tuple[int, str]:
    """One GET without following redirects (where a click leads is the point): the status,
    and the redirect target or else the body."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", target,
                           headers={"User-Agent": "Tidings demo mail reader", **(headers or {})})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, response.getheader("Location") or body or response.reason
    finally:
        connection.close()


async def _summary(public_url: str, api_key: str, socket: str) -> None:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()  # the account is on UTC
    path = f"/v1/stats?from={today}&to={today}"
    status, body = await asyncio.to_thread(_get, public_url + path,
                                           {"Authorization": f"Bearer {api_key}"})
    totals = json.loads(body)["totals"] if status == 200 else body
    shown = {name: value for name, value in totals.items() if value} if status == 200 else totals
    print(f"\nGET {path} with the account's API key -> {status}")
    print(f"  today's figures for 'demo': {shown}")
    print("\nWhere to look:")
    print(f"  the statistics API: curl -H 'Authorization: Bearer {api_key}' "
          f"'{public_url}{path}'   (while Tidings runs)")
    cli = f"redis-cli -s {socket}"
    print(f"  events:        {cli} LRANGE {stats_keys.timeline('<id>')} 0 -1"
          "   (while Tidings runs)")
    print(f"  a message:     {cli} HGETALL {keys.message('<id>')}")
    print(f"  rejections:    {cli} XRANGE {stats_keys.log('demo')} - +")
    print("  your own run:  tidings serve, then tidings account create NAME (see README.md)")
