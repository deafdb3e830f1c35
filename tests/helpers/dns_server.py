"""A small authoritative DNS server for tests: the zone data is whatever the test sets.

It answers on 127.0.0.1, UDP and TCP on the same free port, from a background thread, so
MX lookups, null MX, NXDOMAIN and SERVFAIL go over the wire exactly as in production.
Unknown names are NXDOMAIN; a known name asked for a type it lacks is NOERROR with no data.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

#: TTL of every answer; short, as tests change records while running.
TTL = 60


class DnsServer:
    def __init__(self) -> None:
        self.port = 0
        self._records: dict[str, dict[str, list[str]]] = {}
        self._nxdomain: set[str] = set()
        self._servfail: set[str] = set()
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="dns-server", daemon=True)
        self._stopping = False

    # -- zone data -----------------------------------------------------------------------

    def set_mx(self, domain: str, records: list[tuple[int, str]]) -> None:
        self._set(domain, "MX", [f"{preference} {_absolute(host)}" for preference, host in records])

    def set_null_mx(self, domain: str) -> None:
        self._set(domain, "MX", ["0 ."])

    def set_a(self, host: str, address: str) -> None:
        self._set(host, "A", [address])

    def set_aaaa(self, host: str, address: str) -> None:
        self._set(host, "AAAA", [address])

    def set_nxdomain(self, domain: str) -> None:
        key = _key(domain)
        with self._lock:
            self._records.pop(key, None)
            self._servfail.discard(key)
            self._nxdomain.add(key)

    def set_servfail(self, domain: str) -> None:
        with self._lock:
            self._servfail.add(_key(domain))

    def _set(self, name: str, rdtype: str, texts: list[str]) -> None:
        key = _key(name)
        with self._lock:
            self._nxdomain.discard(key)
            self._servfail.discard(key)
            self._records.setdefault(key, {})[rdtype] = texts

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> DnsServer:
        self._udp, self._tcp = _bind_pair()
        self.port = self._udp.getsockname()[1]
        self._selector.register(self._udp, selectors.EVENT_READ, self._on_udp)
        self._selector.register(self._tcp, selectors.EVENT_READ, self._on_tcp)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._wake_w.send(b"x")
        self._thread.join(timeout=10)
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            sock.close()
        self._selector.close()

    def _serve(self) -> None:
        while not self._stopping:
            for key, _events in self._selector.select():
                if key.data is not None:
                    key.data()

    def _on_udp(self) -> None:
        wire, peer = self._udp.recvfrom(65535)
        reply = self._answer(wire)
        if reply is not None:
            self._udp.sendto(reply, peer)

    def _on_tcp(self) -> None:
        connection, _peer = self._tcp.accept()
        # One query per connection is all a stub resolver's TCP fallback sends.
        with connection:
            connection.settimeout(5)
            try:
                length = struct.unpack("!H", _read_exactly(connection, 2))[0]
                reply = self._answer(_read_exactly(connection, length))
                if reply is not None:
                    connection.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                pass

    # -- answers -------------------------------------------------------------------------

    def _answer(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if query.question:
            self._fill(response, query.question[0])
        return response.to_wire()

    def _fill(self, response: dns.message.Message, question: dns.rrset.RRset) -> None:
        key = _key(question.name.to_text())
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            servfail, records = key in self._servfail, self._records.get(key)
        if servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif records.get(rdtype):
            response.answer.append(dns.rrset.from_text_list(question.name, TTL, "IN", rdtype,
                                                            records[rdtype]))


def _key(name: str) -> str:
    return name.rstrip(".").lower()


def _absolute(host: str) -> str:
    return host if host.endswith(".") else host + "."


def _bind_pair() -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same free port (retried if TCP finds it taken)."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(16)
        return udp, tcp
    raise RuntimeError("no port free for both UDP and TCP")


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("short read")
        data += chunk
    return data
