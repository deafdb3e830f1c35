import base64
import random
import time

import pytest

from policy.facts import MessageFacts
from relay.smtp.message_facts import (
    INTERNAL_ERROR,
    MAX_BRACKETS,
    UnparseableMessage,
    has_unsubscribe_tag,
    inspect_message,
)

FROM = "From: Sender <sender@example.com>"
HEAD = f"{FROM}\r\nSubject: Test\r\nMIME-Version: 1.0\r\n"
TEXT = "Content-Type: text/plain; charset=utf-8"
HTML = "Content-Type: text/html; charset=utf-8"


def entity(*headers: str, body: str = "Hello.\r\n") -> str:
    return "".join(f"{header}\r\n" for header in headers) + "\r\n" + body


def multipart(subtype: str, *parts: str, boundary: str = "b1", close: bool = True) -> str:
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    body += f"--{boundary}--\r\n" if close else ""
    return entity(f'Content-Type: multipart/{subtype}; boundary="{boundary}"', body=body)


def message(top: str = entity(TEXT), head: str = HEAD) -> bytes:
    return (head + top).encode()


def b64(text: str) -> str:
    return base64.encodebytes(text.encode()).decode().replace("\n", "\r\n")


def nested(levels: int, leaf: str = entity(TEXT)) -> str:
    """``levels`` multipart containers inside each other, the top-level one included."""
    inner = leaf
    for level in range(levels, 0, -1):
        inner = multipart("mixed", inner, boundary=f"level{level}")
    return inner


def refusal(data: bytes, **limits: int) -> str:
    with pytest.raises(UnparseableMessage) as caught:
        inspect_message(data, **limits)
    return caught.value.reason


PDF = entity(
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Disposition: attachment; filename="report.pdf"',
    "Content-Transfer-Encoding: base64",
    body="JVBERi0xLjQK\r\n",
)
PNG_INLINE = entity("Content-Type: image/png", "Content-ID: <logo@example>", body="iVBORw0K\r\n")
ALTERNATIVE = multipart("alternative", entity(TEXT), entity(HTML, body="<p>Hello.</p>\r\n"))
UUENCODED = "See attached.\r\nbegin 644 photo.JPG\r\nM_]C_X``02D9)1@`!`0$`2`!(``#_\r\n`\r\nend\r\n"
FORWARDED = entity(
    "Content-Type: message/rfc822",
    body=(HEAD + multipart("mixed", entity(TEXT), PDF)),
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(message(), None, id="plain text"),
        pytest.param(message(entity()), None, id="no content type is text/plain"),
        pytest.param(message(entity("Content-Type: text")), None, id="invalid type is text/plain"),
        pytest.param(message(entity(HTML, body="<p>Hi</p>\r\n")), None, id="html only"),
        pytest.param(message(ALTERNATIVE), None, id="multipart/alternative"),
        pytest.param(
            message(entity(HTML, "Content-Disposition: inline")), None, id="inline body text"
        ),
        pytest.param(message(multipart("mixed", entity(TEXT), PDF)), "pdf", id="mixed with pdf"),
        pytest.param(
            message(multipart("related", entity(HTML), PNG_INLINE)),
            "image/png",
            id="inline image without name",
        ),
        pytest.param(
            message(entity(TEXT, 'Content-Disposition: inline; filename="notes.txt"')),
            "txt",
            id="text part with file name",
        ),
        pytest.param(
            message(entity('Content-Type: text/plain; name="x.exe"')),
            "exe",
            id="declared text/plain named exe",
        ),
        pytest.param(
            message(entity('Content-Type: application/octet-stream; name="data.ZIP"')),
            "zip",
            id="content-type name only",
        ),
        pytest.param(
            message(
                entity(
                    "Content-Type: application/octet-stream",
                    "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9%2Edocx",
                )
            ),
            "docx",
            id="rfc 2231 encoded name",
        ),
        pytest.param(
            message(
                entity(
                    "Content-Type: application/octet-stream",
                    'Content-Disposition: attachment; filename*0="report.x";\r\n filename*1="lsx"',
                )
            ),
            "xlsx",
            id="rfc 2231 continuation",
        ),
        pytest.param(
            message(
                entity(
                    "Content-Type: application/octet-stream",
                    'Content-Disposition: attachment; filename="plain.txt";'
                    " filename*=utf-8''real.odt",
                )
            ),
            "odt",
            id="rfc 2231 form wins over plain",
        ),
        pytest.param(
            message(
                entity(
                    "Content-Type: application/vnd.ms-excel",
                    'Content-Disposition: attachment; filename="=?utf-8?B?0L7RgtGH0ZHRgi54bHN4?="',
                )
            ),
            "xlsx",
            id="rfc 2047 encoded name",
        ),
        pytest.param(
            message(
                entity('Content-Type: application/x-foo; name="=?utf-8?Q?a?= =?utf-8?Q?b.7z?="')
            ),
            "7z",
            id="rfc 2047 name in two words",
        ),
        pytest.param(
            message(entity(TEXT, 'Content-Disposition: attachment; filename="README"')),
            "text/plain",
            id="name without extension",
        ),
        pytest.param(
            message(entity('Content-Type: Application/X-Foo; name="file."')),
            "application/x-foo",
            id="name ending in a dot",
        ),
        pytest.param(
            message(entity('Content-Type: application/x-foo; name="C:\\\\dir.d\\\\README"')),
            "application/x-foo",
            id="windows path stripped",
        ),
        pytest.param(
            message(entity('Content-Type: application/x-foo; name="../dir.d/archive.tar.GZ "')),
            "gz",
            id="unix path stripped, last extension, trimmed",
        ),
        pytest.param(
            message(entity(TEXT, "Content-Disposition: attachment")),
            "text/plain",
            id="attachment disposition without name",
        ),
        pytest.param(
            message(
                multipart(
                    "alternative",
                    multipart(
                        "mixed",
                        entity(TEXT),
                        entity('Content-Type: a/b; name="c.docx"'),
                        boundary="in",
                    ),
                    entity(HTML),
                )
            ),
            "docx",
            id="file in mixed nested in alternative",
        ),
        pytest.param(
            message(multipart("mixed", entity(TEXT), FORWARDED, PDF, boundary="outer")),
            "message/rfc822",
            id="forwarded message counts itself",
        ),
        pytest.param(
            message(multipart("mixed", entity(TEXT), PNG_INLINE, PDF)),
            "image/png",
            id="first offender in document order",
        ),
        pytest.param(
            message(multipart("mixed", multipart("mixed", PDF, boundary="in"), PNG_INLINE)),
            "pdf",
            id="depth first order",
        ),
        pytest.param(
            message(multipart("digest", entity(body=HEAD + "\r\nHi\r\n"))),
            "message/rfc822",
            id="digest parts default to message/rfc822",
        ),
        pytest.param(
            message(entity("Content-Type: application/pdf", body="%PDF-1.4\r\n")),
            "application/pdf",
            id="top-level part",
        ),
        pytest.param(
            message(
                multipart(
                    "signed",
                    entity(TEXT),
                    entity('Content-Type: application/pkcs7-signature; name="smime.p7s"'),
                )
            ),
            "p7s",
            id="pkcs7 signature",
        ),
        pytest.param(message(entity(TEXT, body=UUENCODED)), "jpg", id="uuencoded in plain text"),
        pytest.param(
            message(entity(TEXT, "Content-Transfer-Encoding: base64", body=b64(UUENCODED))),
            "jpg",
            id="uuencoded in base64 text part",
        ),
        pytest.param(
            message(entity(HTML, body="<pre>\r\nbegin-base64 0644 data.bin\r\nAAAA\r\n====\r\n")),
            "bin",
            id="begin-base64 in html",
        ),
        pytest.param(
            message(entity(TEXT, body="begin 644 payload\r\nM````\r\nend\r\n")),
            "application/octet-stream",
            id="uuencoded name without extension",
        ),
        pytest.param(
            message(entity(TEXT, body="begin 6x4 plan.txt\r\nbegin with a plan.\r\n")),
            None,
            id="begin lines that are not uuencode",
        ),
        pytest.param(
            message(entity('Content-Type: a/b; name="=?utf-8?Q?x.p=0D=0ARCPT_TO:df?="')),
            "prcpt to:df",
            id="reported type stays on one line",
        ),
        pytest.param(
            message(entity(f'Content-Type: a/b; name="x.{"e" * 500}"')),
            "e" * 64,
            id="reported type is capped",
        ),
    ],
)
def test_first_attachment(data, expected):
    assert inspect_message(data).attachment == expected


QP_TAG = entity(
    TEXT, "Content-Transfer-Encoding: quoted-printable", body="Bye: [Unsub=\r\nscribe]\r\n"
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(message(entity(TEXT, body="x [unsubscribe] y\r\n")), True, id="8bit"),
        pytest.param(message(QP_TAG), True, id="qp soft line break inside the tag"),
        pytest.param(
            message(
                entity(
                    TEXT, "Content-Transfer-Encoding: quoted-printable", body="=5BUnsubscribe=5D"
                )
            ),
            True,
            id="qp encoded brackets",
        ),
        pytest.param(
            message(
                multipart(
                    "alternative",
                    entity(TEXT),
                    entity(
                        HTML, "Content-Transfer-Encoding: base64", body=b64("<a>[UNSUBSCRIBE]</a>")
                    ),
                )
            ),
            True,
            id="base64 html",
        ),
        pytest.param(
            message(entity(TEXT, "Content-Transfer-Encoding: base64", body="W1Vuc3Vic2NyaWJlXQ")),
            True,
            id="base64 without padding",
        ),
        pytest.param(message(ALTERNATIVE), False, id="absent"),
        pytest.param(message(entity(TEXT, body="[Unsubscribe\r\n]")), False, id="split by a line"),
        pytest.param(
            message(
                multipart(
                    "mixed",
                    entity(TEXT),
                    entity('Content-Type: text/plain; name="a.txt"', body="[Unsubscribe]"),
                )
            ),
            False,
            id="only in an attachment",
        ),
    ],
)
def test_unsubscribe_tag(data, expected):
    assert inspect_message(data).has_unsubscribe_tag is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("From: a@example.com", ("a@example.com",)),
        ("From: John Doe <john@example.com>", ("john@example.com",)),
        ("From: =?utf-8?B?w4ltaWxl?= <emile@example.com>", ("emile@example.com",)),
        ("From: Jöhn <john@example.com>", ("john@example.com",)),
        ('From: "Doe, J" <j@example.com>, k@example.org', ("j@example.com", "k@example.org")),
        ("From: Team: a@example.com, b@example.com;", ("a@example.com", "b@example.com")),
        ("From: a@example.com (Alice)", ("a@example.com",)),
        ("From: Alice\r\n <a@example.com>", ("a@example.com",)),
        ("From: a@example.com, bogus", ("a@example.com", "bogus")),
    ],
)
def test_from_addresses(header, expected):
    assert inspect_message(message(head=header + "\r\n")).from_addresses == expected


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"Subject: x\r\n", "missing From header"),
        (b"From: a@example.com\r\nFrom: b@example.com\r\n", "more than one From header"),
        (b"From: undisclosed-recipients:;\r\n", "no address in From header"),
        (b"From: \r\n", "no address in From header"),
        (b"From: garbage\r\n", "no address in From header"),
        (b"From: \xe9mile <e@example.com>\r\n", "undecodable header: From"),
    ],
)
def test_from_refused(head, reason):
    assert refusal(head + entity(TEXT).encode()) == reason


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (b"Plain", "Plain"),
        (b"=?utf-8?Q?Caf=C3=A9_ouvert?=", "Café ouvert"),
        (b"=?utf-8?B?w6k=?= =?utf-8?B?w6k=?= end", "éé end"),
        (b"=?x-unknown?Q?abc?=", "abc"),
        (b"=?utf-8?B?***?= x", " x"),
        (b"caf\xe9", "caf\ufffd"),
        (b"=?utf-8?Q?a=0D=0Ab?=", "a  b"),
        (b"x" * 2000, "x" * 998),
    ],
)
def test_subject(subject, expected):
    data = FROM.encode() + b"\r\nSubject: " + subject + b"\r\n\r\nHi\r\n"
    assert inspect_message(data).subject == expected


def test_missing_subject_is_empty():
    assert inspect_message(message(head=FROM + "\r\n")).subject == ""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (message(entity(TEXT, TEXT)), "more than one Content-Type header"),
        (
            message(multipart("mixed", entity(TEXT, "Content-Type: application/pdf"))),
            "more than one Content-Type header",
        ),
        (
            message(
                entity(TEXT, "Content-Transfer-Encoding: 7bit", "Content-Transfer-Encoding: base64")
            ),
            "more than one Content-Transfer-Encoding header",
        ),
        (
            message(entity(TEXT, "Content-Disposition: inline", "Content-Disposition: attachment")),
            "more than one Content-Disposition header",
        ),
        (message(entity("Content-Type: multipart/mixed")), "multipart without boundary"),
        (
            message(entity('Content-Type: multipart/mixed; boundary=""')),
            "multipart without boundary",
        ),
        (
            message(entity("Content-Type: multipart/mixed; boundary=a; boundary=b")),
            "more than one boundary parameter",
        ),
        (
            message(entity("Content-Type: multipart/mixed; boundary=a", body="no parts\r\n")),
            "multipart boundary not found",
        ),
        (message(head=HEAD + "Subject hello\r\n"), "malformed header line"),
        (message(head=" folded first\r\n" + HEAD), "malformed header line"),
        (message(head=HEAD + "X-Blank-Fold: a\r\n \r\n"), "malformed header line"),
        (message(multipart("mixed", "not a header\r\n\r\nbody")), "malformed header line"),
        (
            HEAD.encode() + b'Content-Type: text/plain; name="\xe9.pdf"\r\n\r\nHi\r\n',
            "undecodable header: Content-Type",
        ),
        (
            message(entity(TEXT, "Content-Disposition: attachment; filename*=a; filename*0=b")),
            "malformed parameters in Content-Disposition",
        ),
    ],
)
def test_unparseable(data, reason):
    assert refusal(data) == reason


def test_depth_limit_counts_multipart_levels():
    assert inspect_message(message(nested(20, PDF))).attachment == "pdf"
    assert refusal(message(nested(21))) == "MIME nested deeper than 20 levels"
    assert inspect_message(message(nested(3)), max_depth=3).attachment is None
    assert refusal(message(nested(4)), max_depth=3) == "MIME nested deeper than 3 levels"


def test_part_limit_counts_every_entity():
    assert inspect_message(message(multipart("mixed", *[entity(TEXT)] * 499))).attachment is None
    assert refusal(message(multipart("mixed", *[entity(TEXT)] * 500))) == "more than 500 MIME parts"
    two_levels = message(multipart("mixed", multipart("mixed", entity(TEXT), boundary="in")))
    assert inspect_message(two_levels, max_parts=3).attachment is None
    assert refusal(two_levels, max_parts=2) == "more than 2 MIME parts"


def best_of_three(run):
    """Result and fastest time of three runs, so a busy machine does not fail the test."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return result, best


def test_thousand_nested_multiparts_refused_quickly():
    data = message(nested(1000))
    assert 60_000 < len(data) < 200_000
    reason, seconds = best_of_three(lambda: refusal(data))
    assert reason == "MIME nested deeper than 20 levels"
    assert seconds < 0.05


def test_fifty_thousand_empty_parts_refused_quickly():
    data = message(multipart("mixed", *[""] * 50_000))
    reason, seconds = best_of_three(lambda: refusal(data))
    assert reason == "more than 500 MIME parts"
    assert seconds < 0.05


def test_near_miss_delimiter_lines_stay_linear():
    """Boundaries that prefix each other make every filler line a candidate at every level."""
    filler = "--" + "z" * 25 + "X\r\n"
    inner = multipart("mixed", entity(TEXT, body=filler * 15_000), PDF, boundary="z" * 20)
    for level in range(19, 0, -1):
        inner = multipart("mixed", inner, boundary="z" * level)
    data = message(inner)
    attachment, seconds = best_of_three(lambda: inspect_message(data).attachment)
    assert attachment == "pdf"
    # One Python step per candidate line and level takes ~0.2 s here; the pattern, ~0.03 s.
    assert seconds < 0.1


def test_delimiters_with_padding_found_past_near_misses():
    misses = "--b1x\r\n" * 40
    body = f"{misses}--b1 \t\r\n{entity(TEXT)}\r\n--b1\r\n{PDF}\r\n--b1-- \r\nepilogue\r\n"
    data = message(entity('Content-Type: multipart/mixed; boundary="b1"', body=body))
    assert inspect_message(data).attachment == "pdf"


def test_unterminated_multipart_keeps_last_part():
    assert (
        inspect_message(message(multipart("mixed", entity(TEXT), PDF, close=False))).attachment
        == "pdf"
    )


SEEDS = [
    message(multipart("mixed", ALTERNATIVE, PNG_INLINE, PDF, FORWARDED, boundary="outer")),
    message(QP_TAG),
    message(nested(5, entity(TEXT, body=UUENCODED))),
    message(entity("Content-Type: a/b; name*0*=utf-8''%C3%A9; name*1=\"x.pdf\"")),
]
TOKENS = [
    b"\r\n",
    b"\r\n\r\n",
    b"--b1",
    b"--outer--",
    b"=?utf-8?B?",
    b"?=",
    b"*0*=",
    b";",
    b'"',
    b":",
    b"Content-Type: multipart/mixed; boundary=b1\r\n",
    b"\xff",
    b"\x00",
    b" ",
    b"begin 644 a.b\r\n",
]


def mutations(rng: random.Random):
    for _ in range(400):
        data = bytearray(rng.choice(SEEDS))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data) + 1)
            choice = rng.random()
            if choice < 0.3:
                data[at:at] = rng.choice(TOKENS)
            elif choice < 0.6:
                del data[at : at + rng.randint(1, 40)]
            elif choice < 0.8:
                data[at:at] = data[rng.randrange(len(data) + 1) :][: rng.randint(1, 200)]
            elif data:
                data[at % len(data)] = rng.randrange(256)
        yield bytes(data)
    for seed in SEEDS:
        for _ in range(50):
            yield seed[: rng.randrange(len(seed))]
    for _ in range(200):
        yield bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        yield b"\r\n".join(
            bytes(rng.choice(b'-:; =?"abc*\t') for _ in range(rng.randint(0, 20)))
            for _ in range(rng.randint(1, 30))
        )


def test_fuzz_only_facts_or_unparseable():
    for data in mutations(random.Random(2050)):
        try:
            facts = inspect_message(data)
        except UnparseableMessage as exc:
            assert exc.reason and "\r" not in exc.reason and "\n" not in exc.reason
            assert not exc.reason.startswith(INTERNAL_ERROR), (exc.reason, data)
        else:
            assert isinstance(facts, MessageFacts)
            assert facts.attachment is None or facts.attachment.isprintable()


@pytest.mark.parametrize("brackets", [0, MAX_BRACKETS - 1, MAX_BRACKETS, MAX_BRACKETS + 5])
@pytest.mark.parametrize("tag, expected", [(b"[UnSubscribe]", True), (b"[Unsubscribe ]", False),
                                           (b"", False)])
def test_unsubscribe_tag_after_any_number_of_other_brackets(brackets, tag, expected):
    """Both ways of looking (bracket by bracket, then the whole text) find the same tags."""
    text = b"[x] " * brackets + b"[unsub" + tag + b" [unsubscribe"
    assert has_unsubscribe_tag(text) is expected
