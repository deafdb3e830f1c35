"""TLS for the submission ports: the operator's certificate, or a self-signed one made once.

The generated certificate lives in the data directory and is reused across restarts so
that clients which pinned it keep working; a warning says production needs a real one.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def ensure_self_signed(data_dir: Path, hostname: str) -> tuple[Path, Path]:
    """Paths of the generated certificate and key, creating them on first use."""
    tls_dir = data_dir / "tls"
    cert_path, key_path = tls_dir / "selfsigned.crt", tls_dir / "selfsigned.key"
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    tls_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    alt_names = [x509.DNSName(hostname), x509.DNSName("localhost"),
                 x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.IPAddress(ipaddress.ip_address("::1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def context_for(data_dir: Path, hostname: str, cert: Path | None,
                key: Path | None) -> ssl.SSLContext:
    if cert is not None and key is not None:
        return server_context(cert, key)
    cert, key = ensure_self_signed(data_dir, hostname)
    log.warning("TLS uses a self-signed certificate (%s): clients will not trust it; set "
                "TIDINGS_TLS_CERT and TIDINGS_TLS_KEY for production", cert)
    return server_context(cert, key)
