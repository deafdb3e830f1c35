"""DKIM signing, verified by dkimpy against the very DNS record `tidings dkim` prints."""

from __future__ import annotations

import re

import dkim
import pytest
from dkim.canonicalization import Relaxed
from hypothesis import given
from hypothesis import strategies as st

from relay.delivery.dkim import Signer, SigningError, relaxed_body, signer_for
from relay.dkim_keys import DkimKey, generate, txt_record, txt_value

MESSAGE = (
    b"From: Shop Newsletter <news@shop.example>\r\n"
    b"To: Alice Example <alice@example.org>\r\n"
    b"Subject: Your order has shipped and is on its way to you, with tracking\r\n"
    b" details and a few recommendations\r\n"
    b"Date: Tue, 02 Jan 2024 10:00:00 +0000\r\n"
    b"Message-ID: <20240102100000.1234@shop.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"List-Unsubscribe: <https://tidings.example/t/u/abc123>,\r\n"
    b"\t<mailto:unsubscribe@bounces.tidings.example?subject=abc123>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"Content-Type: multipart/alternative;\r\n"
    b' boundary="==b=="\r\n'
    b"\r\n"
    b"--==b==\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Hello Alice,   your order =E2=82=AC 42 has shipped.  \r\n"
    b"This line is long enough that it had to be soft-wrapped by the quoted-printa=\r\n"
    b"ble encoder.\r\n"
    b"--==b==\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"<p style=3D\"color: #333\">Hello Alice, your order has shipped.</p>\r\n"
    b"--==b==--\r\n"
)


def published(key: DkimKey) -> bytes:
    """The TXT value a resolver returns for the printed record: its strings joined."""
    record = txt_record(key)
    assert record.startswith(f"tidings._domainkey.{key.domain}. IN TXT ( ")
    strings = re.findall(r'"([^"]*)"', record)
    assert all(len(s) <= 255 for s in strings)
    return "".join(strings).encode()


def verifies(signed: bytes, key: DkimKey) -> bool:
    record = published(key)

    def dnsfunc(name, timeout=5):
        assert name == f"{key.selector}._domainkey.{key.domain}.".encode()
        return record

    return dkim.verify(signed, dnsfunc=dnsfunc)


@pytest.fixture(scope="module", params=["rsa", "ed25519"])
def key(request) -> DkimKey:
    return generate("Shop.Example", algorithm=request.param)


def tags(signed: bytes) -> dict[str, str]:
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    value = re.match(r"DKIM-Signature:((?:.*\r\n[ \t])*.*)", header).group(1)
    value = re.sub(r"\s+", "", value)
    return dict(part.split("=", 1) for part in value.split(";") if part)


def test_the_printed_record_verifies_the_signature(key):
    signed = Signer(key).sign(MESSAGE)
    assert signed.startswith(b"DKIM-Signature: ")
    assert signed.endswith(MESSAGE)
    assert published(key) == txt_value(key).encode()
    assert verifies(signed, key)


def test_rsa_record_is_split_into_strings_of_at_most_255():
    rsa_key = generate("shop.example")
    assert len(txt_value(rsa_key)) > 255
    assert len(re.findall(r'"[^"]*"', txt_record(rsa_key))) == 2


def test_signature_tags(key):
    found = tags(Signer(key).sign(MESSAGE))
    assert found["c"] == "relaxed/relaxed"
    assert found["a"] == {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}[key.algorithm]
    assert found["d"] == "shop.example"
    assert found["s"] == "tidings"
    signed = found["h"].split(":")
    assert signed.count("from") == 2
    assert {"to", "subject", "date", "message-id", "mime-version", "content-type",
            "list-unsubscribe", "list-unsubscribe-post"} <= set(signed)
    assert "cc" not in signed and "reply-to" not in signed  # only headers present


def test_an_altered_body_fails(key):
    signed = Signer(key).sign(MESSAGE)
    altered = signed.replace(b"order has shipped.</p>", b"order was lost.</p>")
    assert altered != signed
    assert not verifies(altered, key)


def test_an_altered_subject_fails(key):
    signed = Signer(key).sign(MESSAGE)
    altered = signed.replace(b"Subject: Your order", b"Subject: Our order")
    assert altered != signed
    assert not verifies(altered, key)


def test_an_added_from_fails(key):
    signed = Signer(key).sign(MESSAGE)
    head, body = signed.split(b"\r\n\r\n", 1)
    forged = head + b"\r\nFrom: ceo@shop.example\r\n\r\n" + body
    assert not verifies(forged, key)


def test_refolding_whitespace_still_verifies(key):
    """What relaxed canonicalization is for: relays that re-fold headers or pad spaces."""
    signed = Signer(key).sign(MESSAGE)
    refolded = signed.replace(b"has shipped and is on its way",
                              b"has shipped and  is on\r\n\tits way")
    assert refolded != signed
    assert verifies(refolded, key)


def test_a_message_without_from_cannot_be_signed(key):
    without_from = MESSAGE.replace(b"From: Shop Newsletter <news@shop.example>\r\n", b"")
    with pytest.raises(SigningError, match="without a From header"):
        Signer(key).sign(without_from)


def test_signer_for_reuses_one_signer_per_key(key):
    assert signer_for(key) is signer_for(key)
    assert signer_for(key) is not signer_for(generate("shop.example", algorithm=key.algorithm))


def test_a_key_whose_pem_does_not_match_its_algorithm_is_refused():
    rsa_key = generate("shop.example")
    wrong = DkimKey(rsa_key.domain, rsa_key.selector, "ed25519", rsa_key.private_key,
                    rsa_key.public_key)
    with pytest.raises(ValueError, match="not a valid ed25519 key"):
        Signer(wrong)


_BODY_BYTES = st.lists(st.sampled_from([b"a", b" ", b"  ", b"\t", b"\r\n", b"\r", b"\n", b"x y"]),
                       max_size=30).map(b"".join)


@given(_BODY_BYTES)
def test_relaxed_body_is_dkimpys_canonicalization(body):
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


@pytest.mark.parametrize("body", [b"", b"\r\n\r\n", b"a  b \t c  \r\n\r\n \r\n", b"no line end  "],
                         ids=["empty", "blank-lines", "spaces-and-tabs", "no-line-end"])
def test_bodies_with_odd_whitespace_verify(key, body):
    message = MESSAGE.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + body
    assert verifies(Signer(key).sign(message), key)
