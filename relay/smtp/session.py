"""Typed per-connection state, and its conversion to the frozen facts the rules read.

A new session starts at connect and again after STARTTLS (RFC 3207 4.2: everything
learnt before TLS is forgotten, AUTH included).
"""

from __future__ import annotations

from aiosmtpd.smtp import Session

from policy.facts import AccountRules, MailFacts, SessionFacts


class SubmissionSession(Session):
    def __init__(self, loop, *, tls: bool):
        super().__init__(loop)
        self.tls = tls
        #: Set by a successful AUTH.
        self.account: str | None = None
        self.login: str | None = None
        #: The account's rules as read at MAIL, for the rest of the transaction, and the
        #: version they were read at (checked again by the atomic write).
        self.rules: AccountRules | None = None
        self.rules_version = ""
        #: The MAIL command, to judge the transaction again if the rules change under it.
        self.mail: MailFacts | None = None

    @property
    def client_ip(self) -> str:
        """The client's address: from the PROXY header behind a load balancer, else the peer."""
        proxy = getattr(self, "proxy_data", None)
        if proxy is not None and getattr(proxy, "src_addr", None) is not None:
            return str(proxy.src_addr)
        peer = self.peer
        return str(peer[0]) if isinstance(peer, tuple) else "local"

    def facts(self) -> SessionFacts:
        return SessionFacts(client_ip=self.client_ip, tls=self.tls, account=self.rules)

    def reset_transaction(self) -> None:
        self.rules = None
        self.rules_version = ""
        self.mail = None
