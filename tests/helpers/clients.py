"""SMTP clients for tests: smtplib sessions and a raw line-level client over real TLS."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from email.message import EmailMessage


def insecure_context() -> ssl.SSLContext:
    """The test server's certificate is the generated self-signed one."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def submission(port: int, login: str | None = None, password: str | None = None,
               *, implicit_tls: bool = False) -> smtplib.SMTP:
    """A logged-in smtplib session on 587-style (STARTTLS) or 465-style (implicit TLS) port."""
    if implicit_tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL("127.0.0.1", port, context=insecure_context(),
                                                timeout=30)
        client.ehlo("client.test")
    else:
        client = smtplib.SMTP("127.0.0.1", port, timeout=30)
        client.ehlo("client.test")
        client.starttls(context=insecure_context())
        client.ehlo("client.test")
    if login is not None:
        client.login(login, password)
    return client


def message(sender: str = "news@shop.example", recipient: str = "alice@example.com", *,
            subject: str = "Your order", body: str = "Thank you for your order.\n",
            html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def reply_line(code: int, text: bytes | str) -> str:
    """smtplib splits replies into code and text; rebuild the first line as sent."""
    if isinstance(text, bytes):
        text = text.decode()
    return f"{code} {text.splitlines()[0]}"


def send_raw(client: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> str:
    """One transaction with data sent exactly as given (already CRLF, no dot-stuffing done).

    Returns the first line of the first reply that was not a success.
    """
    code, text = client.mail(sender)
    if code != 250:
        return reply_line(code, text)
    code, text = client.rcpt(recipient)
    if code != 250:
        return reply_line(code, text)
    code, text = client.docmd("DATA")
    if code != 354:
        return reply_line(code, text)
    client.send(data + b".\r\n")
    code, text = client.getreply()
    return reply_line(code, text)


class RawSession:
    """Line-level SMTP over a real socket, for attacks that client libraries refuse to send."""

    def __init__(self, port: int, *, implicit_tls: bool = False):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if implicit_tls:
            sock = insecure_context().wrap_socket(sock)
        self.sock = sock
        self.buffer = b""
        self.greeting = self.read_reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, line: str | bytes) -> str:
        self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.read_reply()

    def read_reply(self) -> str:
        """The whole reply, lines joined with \\n; empty string if the server closed."""
        lines = []
        while True:
            line = self._read_line()
            if line is None:
                return "\n".join(lines)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def starttls(self) -> str:
        reply = self.command("STARTTLS")
        self.sock = insecure_context().wrap_socket(self.sock)
        self.buffer = b""
        return reply

    def login_plain(self, login: str, password: str) -> str:
        import base64

        token = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
        return self.command(f"AUTH PLAIN {token}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _read_line(self) -> str | None:
        while b"\r\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")
