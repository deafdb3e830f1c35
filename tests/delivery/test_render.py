"""Rendering for delivery: tags, RFC 8058 headers, footer, open pixel and click tracking.

Every rendered message is checked to re-parse cleanly with only CRLF line endings, and
the parts rendering must not touch are compared byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email
import email.policy
import re
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest

from relay.delivery.render import RenderPlan, render

UNSUB = "https://t.example/t/u/UNSUB"
WEB = "https://t.example/t/w/WEB"
PIXEL = "https://t.example/t/o/OPEN"
MAILTO = "mailto:u-abc@bounces.example"
OUR_ID = "01jd8x5k2m3n4p5q6r7s8t9v0w"
FOOTER_HTML = f'<p><a href="{UNSUB}">Unsubscribe</a></p>'


def click(index: int) -> str:
    return f"https://t.example/t/c/{index}"


PLAN = RenderPlan(
    message_id=OUR_ID,
    hostname="relay.example",
    unsubscribe_url=UNSUB,
    web_version_url=WEB,
    list_unsubscribe_mailto=MAILTO,
    unsubscribe_mode="inject",
    open_pixel_url=PIXEL,
    click_url=click,
)
QUIET = dataclasses.replace(PLAN, unsubscribe_mode="off", open_pixel_url=None, click_url=None)


def plan(**changes) -> RenderPlan:
    return dataclasses.replace(PLAN, **changes)


def build(*, text: str | None = None, html: str | None = None, **headers) -> bytes:
    """A message as a client submits it: CRLF line endings, the stdlib's MIME layout."""
    msg = EmailMessage()
    msg["From"] = "Shop <news@shop.example>"
    msg["To"] = "jane@example.org"
    msg["Subject"] = "Your order"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg.as_bytes(policy=email.policy.SMTP)


def parsed(data: bytes) -> EmailMessage:
    """The rendered message re-parsed, after checking it is CRLF-only and free of defects."""
    assert b"\r" not in data.replace(b"\r\n", b""), "bare CR"
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF"
    msg = email.message_from_bytes(data, policy=email.policy.default)
    for part in msg.walk():
        assert not part.defects, part.defects
    return msg


def bodies(data: bytes) -> dict[str, str]:
    """Decoded text of each body part, by content type, with line breaks as "\\n"."""
    msg = parsed(data)
    return {
        part.get_content_type(): part.get_content().replace("\r\n", "\n")
        for part in msg.walk()
        if part.get_content_maintype() == "text" and not part.is_attachment()
    }


def header_block(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0] + b"\r\n"


class Hrefs(HTMLParser):
    """Every link a reader would see, in order, from a real parser."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in ("a", "area") and "href" in values:
            self.hrefs.append(values["href"])
        if tag == "img":
            self.images.append(values.get("src"))


def hrefs(html: str) -> list[str]:
    return Hrefs(html).hrefs


# --- tags -------------------------------------------------------------------------------


def test_plain_text_tags_become_urls():
    raw = build(text="Hi Jane,\nLeave: [Unsubscribe]\nOnline: [WebVersion]\nBye\n")
    text = bodies(render(raw, PLAN).data)["text/plain"]
    assert text == f"Hi Jane,\nLeave: {UNSUB}\nOnline: {WEB}\nBye\n"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="[Unsubscribe]">Leave</a>', f'<a href="{UNSUB}">Leave</a>'),
        ("<a href='[WebVersion]'>Online</a>", f"<a href='{WEB}'>Online</a>"),
        ("<a href=[Unsubscribe]>Leave</a>", f'<a href="{UNSUB}">Leave</a>'),
        ("<p>Leave: [Unsubscribe]</p>", f'<p>Leave: <a href="{UNSUB}">Unsubscribe</a></p>'),
        ("<p>[WebVersion]</p>", f'<p><a href="{WEB}">Web version</a></p>'),
        ("<p>&amp; [WebVersion] &lt;</p>", f'<p>&amp; <a href="{WEB}">Web version</a> &lt;</p>'),
        ('<img alt="see [WebVersion]">', f'<img alt="see {WEB}">'),
        ('<a href="https://a.example/">[WebVersion]</a>', f'<a href="https://a.example/">{WEB}</a>'),
        ("<title>[WebVersion]</title>", f"<title>{WEB}</title>"),
        ("<!-- [Unsubscribe] -->", "<!-- [Unsubscribe] -->"),
        ("<script>var u = '[WebVersion]';</script>", "<script>var u = '[WebVersion]';</script>"),
        ('<a href="?u=[Unsubscribe]&amp;x=1">u</a>', f'<a href="?u={UNSUB}&amp;x=1">u</a>'),
    ],
    ids=[
        "href", "single-quoted", "unquoted", "text", "web-text", "text-with-entities",
        "other-attribute", "inside-a-link", "title", "comment", "script", "raw-value-kept",
    ],
)  # fmt: skip
def test_html_tags_in_attributes_and_text(html, expected):
    raw = build(html=f"<html><body>{html}</body></html>\n")
    rendered = render(raw, QUIET)
    assert bodies(rendered.data)["text/html"] == f"<html><body>{expected}</body></html>\n"


def test_urls_are_escaped_in_html():
    unsubscribe = "https://t.example/u?a=1&b=<2>"
    raw = build(html='<p>[Unsubscribe]</p><a href="[Unsubscribe]">x</a>\n')
    html = bodies(render(raw, plan(unsubscribe_url=unsubscribe, open_pixel_url=None)).data)
    escaped = "https://t.example/u?a=1&amp;b=&lt;2&gt;"
    expected = f'<p><a href="{escaped}">Unsubscribe</a></p><a href="{escaped}">x</a>\n'
    assert html["text/html"] == expected
    assert hrefs(html["text/html"]) == [unsubscribe, unsubscribe]


# --- unsubscribe modes ------------------------------------------------------------------

TEXT_FOOTER = f"\nUnsubscribe: {UNSUB}\n"


@pytest.mark.parametrize(
    ("mode", "text", "html", "footer"),
    [
        ("inject", "Hello\n", "<html><body><p>Hi</p></body></html>\n", True),
        ("inject", "Hello [Unsubscribe]\n", "<html><body><p>Hi</p></body></html>\n", False),
        ("inject", "Hello\n", '<html><body><a href="[Unsubscribe]">x</a></body></html>\n', False),
        ("inject", "Hello [unsubscribe]\n", "<html><body>[UNSUBSCRIBE]</body></html>\n", False),
        ("require", "Hello\n", "<html><body><p>Hi</p></body></html>\n", False),
        ("off", "Hello\n", "<html><body><p>Hi</p></body></html>\n", False),
    ],
    ids=["inject", "tag-in-text", "tag-in-html", "tag-in-any-case", "require", "off"],
)
def test_unsubscribe_footer(mode, text, html, footer):
    rendered = render(build(text=text, html=html), plan(unsubscribe_mode=mode, open_pixel_url=None))
    got = bodies(rendered.data)
    assert got["text/plain"].endswith(TEXT_FOOTER) is footer
    assert (FOOTER_HTML in got["text/html"]) is footer
    if footer:
        assert got["text/plain"] == text + TEXT_FOOTER
        assert got["text/html"] == html.replace("</body>", FOOTER_HTML + "</body>")
    else:
        assert got["text/plain"] == re.sub(r"(?i)\[unsubscribe\]", UNSUB, text)
        assert "[" not in got["text/html"] and "[" not in got["text/plain"]
        if "[Unsubscribe]" in html:
            assert got["text/html"] == html.replace("[Unsubscribe]", UNSUB)


def test_footer_goes_at_the_end_without_a_body_tag_and_after_unterminated_text():
    raw = build(text="No newline at the end", html="<p>Hi</p>")
    got = bodies(render(raw, plan(open_pixel_url=None)).data)
    assert got["text/plain"] == "No newline at the end\n" + TEXT_FOOTER
    assert got["text/html"] == "<p>Hi</p>\n" + FOOTER_HTML


# --- tracking ---------------------------------------------------------------------------


def test_opens_and_clicks_tracked():
    html = (
        "<html><body><p>Hi</p>"
        '<a href="https://shop.example/a">A</a> <a href="https://shop.example/b">B</a>'
        '<map><area href="http://shop.example/c"></map>'
        '<a href="https://shop.example/a">A again</a>'
        "</body></html>\n"
    )
    rendered = render(build(html=html), plan(unsubscribe_mode="off"))
    got = bodies(rendered.data)["text/html"]
    assert rendered.links == ("https://shop.example/a", "https://shop.example/b", "http://shop.example/c")
    assert hrefs(got) == [click(0), click(1), click(2), click(0)]
    assert Hrefs(got).images == [PIXEL]
    assert got.index(PIXEL) < got.index("</body>")


def test_no_tracking_leaves_html_alone():
    html = '<html><body><a href="https://shop.example/a">A</a></body></html>\n'
    rendered = render(build(html=html), QUIET)
    assert rendered.links == ()
    assert bodies(rendered.data)["text/html"] == html


def test_pixel_without_body_tag_goes_at_the_end():
    got = bodies(render(build(html="<p>Hi</p>\n"), plan(unsubscribe_mode="off")).data)
    assert got["text/html"].startswith("<p>Hi</p>\n<img src=")
    assert Hrefs(got["text/html"]).images == [PIXEL]


def test_links_in_plain_text_are_not_tracked():
    rendered = render(build(text="Go to https://shop.example/a\n"), PLAN)
    assert rendered.links == ()
    assert bodies(rendered.data)["text/plain"].startswith("Go to https://shop.example/a\n")


@pytest.mark.parametrize(
    "href",
    [
        "mailto:help@shop.example",
        "tel:+441234567890",
        "#top",
        "/account",
        "order.html",
        "//cdn.shop.example/x",
        "javascript:void(0)",
        "ftp://files.shop.example/a",
        "data:text/html,hi",
        UNSUB,
        WEB,
        "",
    ],
)
def test_links_left_alone(href):
    html = f'<html><body><a href="{href}">x</a></body></html>\n'
    rendered = render(build(html=html), plan(open_pixel_url=None, unsubscribe_mode="off"))
    assert rendered.links == ()
    assert bodies(rendered.data)["text/html"] == html


@pytest.mark.parametrize(
    ("href", "original"),
    [
        ("https://shop.example/?a=1&amp;b=2", "https://shop.example/?a=1&b=2"),
        ("https://shop.example/?q=&quot;x&quot;", 'https://shop.example/?q="x"'),
        ("https://shop.example/&#x41;", "https://shop.example/A"),
        ("  HTTPS://shop.example/x  ", "HTTPS://shop.example/x"),
        ("ht&#x09;tps://shop.example/tab", "https://shop.example/tab"),
        # A named reference without ";" before "=" stays as written in an attribute.
        ("https://shop.example/?a=1&copy=2&reg=3", "https://shop.example/?a=1&copy=2&reg=3"),
    ],
)
def test_entities_in_hrefs_are_decoded_for_the_original_link(href, original):
    raw = build(html=f'<p><a class=x href="{href}" id=y>x</a></p>\n')
    rendered = render(raw, plan(open_pixel_url=None, unsubscribe_mode="off"))
    assert rendered.links == (original,)
    assert bodies(rendered.data)["text/html"] == f'<p><a class=x href="{click(0)}" id=y>x</a></p>\n'


def test_tracked_url_is_escaped():
    tracked = plan(click_url=lambda i: f"https://t.example/c?i={i}&k=\"z\"", open_pixel_url=None)
    got = bodies(render(build(html='<a href="https://a.example/">a</a>\n'), tracked).data)
    assert got["text/html"].startswith('<a href="https://t.example/c?i=0&amp;k=&quot;z&quot;">')


def test_links_in_comments_scripts_and_other_attributes_are_not_links():
    html = (
        '<!-- <a href="https://old.example/"> -->'
        "<script>document.write('<a href=\"https://js.example/\">')</script>"
        '<div data-href="https://data.example/" title=\'<a href="https://t.example/">\'></div>'
        '<a href="https://real.example/">real</a>\n'
    )
    rendered = render(build(html=html), plan(open_pixel_url=None, unsubscribe_mode="off"))
    assert rendered.links == ("https://real.example/",)
    assert bodies(rendered.data)["text/html"] == html.replace("https://real.example/", click(0))


def test_links_in_outlook_conditional_markup_are_tracked():
    # Downlevel-revealed conditionals are bogus comments to a browser: the link shows.
    html = '<![if !mso]><a href="https://shop.example/a">a</a><![endif]>\n'
    rendered = render(build(html=html), plan(open_pixel_url=None, unsubscribe_mode="off"))
    assert rendered.links == ("https://shop.example/a",)
    assert bodies(rendered.data)["text/html"] == html.replace("https://shop.example/a", click(0))


def test_five_hundred_links_are_all_tracked():
    anchors = "".join(f'<p><a href="https://shop.example/p/{i}">{i}</a></p>\n' for i in range(500))
    rendered = render(build(html=f"<html><body>\n{anchors}</body></html>\n"), PLAN)
    assert rendered.links == tuple(f"https://shop.example/p/{i}" for i in range(500))
    found = hrefs(bodies(rendered.data)["text/html"])
    assert found == [click(i) for i in range(500)] + [UNSUB]


def test_links_are_indexed_across_html_parts():
    raw = (
        b'From: a@shop.example\r\nContent-Type: multipart/mixed; boundary="mix"\r\n\r\n'
        b"--mix\r\nContent-Type: text/html\r\n\r\n"
        b'<a href="https://one.example/">1</a><a href="https://two.example/">2</a>\r\n'
        b"--mix\r\nContent-Type: text/html\r\n\r\n"
        b'<a href="https://three.example/">3</a><a href="https://one.example/">1</a>\r\n'
        b"--mix--\r\n"
    )
    rendered = render(raw, plan(open_pixel_url=None, unsubscribe_mode="off"))
    assert rendered.links == tuple(f"https://{n}.example/" for n in ("one", "two", "three"))
    parts = [p for p in parsed(rendered.data).walk() if p.get_content_subtype() == "html"]
    assert [hrefs(p.get_content()) for p in parts] == [[click(0), click(1)], [click(2), click(0)]]


# --- transfer encodings and charsets -----------------------------------------------------

ACCENTED = "Café crème, voilà: déjà vu à Zürich\n"


@pytest.mark.parametrize("cte", ["7bit", "8bit", "quoted-printable", "base64"])
@pytest.mark.parametrize("charset", ["iso-8859-1", "windows-1252", "utf-8"])
def test_encodings_and_charsets_survive(cte, charset):
    text = "Hello [WebVersion]\n" + (ACCENTED if cte != "7bit" else "plain ascii\n")
    if charset == "windows-1252" and cte != "7bit":
        text += "Price: 10 € – “quoted”\n"
    body = text.replace("\n", "\r\n").encode(charset)
    if cte == "quoted-printable":
        body = binascii.b2a_qp(body)
    elif cte == "base64":
        body = base64.encodebytes(body).replace(b"\n", b"\r\n")
    raw = (
        b"From: a@shop.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        + f"Content-Type: text/plain; charset={charset}\r\n".encode()
        + f"Content-Transfer-Encoding: {cte}\r\n\r\n".encode()
        + body
    )
    rendered = render(raw, PLAN).data
    assert rendered.endswith(b"\r\n")
    msg = parsed(rendered)
    assert msg.get_content_charset() == charset
    assert msg["Content-Transfer-Encoding"] == cte
    content = msg.get_content().replace("\r\n", "\n")
    assert content == text.replace("[WebVersion]", WEB) + TEXT_FOOTER


def test_unchanged_parts_keep_their_bytes():
    raw = build(text="Hi\n", html="<p>Hi</p>\n")
    rendered = render(raw, QUIET).data
    added = header_block(rendered).replace(header_block(raw), b"")
    assert rendered == raw.replace(b"\r\n\r\n", b"\r\n" + added + b"\r\n", 1)
    assert added.startswith(b"List-Unsubscribe: ")


@pytest.mark.parametrize("cte", ["7bit", None])
def test_long_lines_switch_to_quoted_printable(cte):
    line = "x" * 5000
    headers = b"Content-Type: text/plain\r\n"
    if cte:
        headers += f"Content-Transfer-Encoding: {cte}\r\n".encode()
    raw = b"From: a@shop.example\r\n" + headers + b"\r\n" + line.encode() + b"\r\n"
    rendered = render(raw, PLAN).data
    assert max(len(x) for x in rendered.split(b"\r\n")) <= 78
    msg = parsed(rendered)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert len(msg.get_all("Content-Transfer-Encoding")) == 1
    assert msg.get_content().replace("\r\n", "\n") == line + "\n" + TEXT_FOOTER


def test_long_html_line_is_tracked_and_kept_whole():
    html = "<p>" + "word " * 1000 + '<a href="https://a.example/">a</a></p>'
    rendered = render(build(html=html), plan(unsubscribe_mode="off"))
    got = bodies(rendered.data)["text/html"]
    assert got.startswith("<p>" + "word " * 1000 + f'<a href="{click(0)}">a</a></p>')
    assert max(len(x) for x in rendered.data.split(b"\r\n")) <= 998


def test_quoted_printable_stays_decodable_with_trailing_space_and_equals():
    text = "a = b \nline with tab\t\n" + "é" * 300 + "\n"
    raw = build(text=text, html=None)
    assert b"quoted-printable" in raw or b"base64" in raw
    assert bodies(render(raw, PLAN).data)["text/plain"] == text + TEXT_FOOTER


@pytest.mark.parametrize("charset", ["x-unknown-charset", "utf-16", "utf-7", "base64"])
def test_unreadable_charsets_are_left_alone(charset):
    body = b"Hello [Unsubscribe]\r\n"
    raw = f"From: a@shop.example\r\nContent-Type: text/plain; charset={charset}\r\n\r\n"
    raw = raw.encode() + body
    rendered = render(raw, PLAN).data
    assert rendered.endswith(b"\r\n\r\n" + body)


# --- headers ----------------------------------------------------------------------------


def test_list_unsubscribe_headers_are_replaced_not_duplicated():
    raw = build(
        text="Hi\n",
        List_Unsubscribe="<mailto:old@shop.example>",
        List_Unsubscribe_Post="List-Unsubscribe=One-Click",
    )
    raw = raw.replace(b"List-Unsubscribe: <mailto", b"list-unsubscribe:\r\n <mailto")
    msg = parsed(render(raw, PLAN).data)
    assert msg.get_all("List-Unsubscribe") == [f"<{UNSUB}>, <{MAILTO}>"]
    assert msg.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, f"<{OUR_ID}@relay.example>"),
        ("<abc@client.example>", "<abc@client.example>"),
        ("", f"<{OUR_ID}@relay.example>"),
    ],
)
def test_message_id_added_only_when_missing(existing, expected):
    headers = {} if existing is None else {"Message_ID": existing}
    raw = build(text="Hi\n", **headers)
    if existing == "":
        raw = raw.replace(b"Message-ID: ", b"Message-ID:")
    msg = parsed(render(raw, PLAN).data)
    assert msg.get_all("Message-ID") == [expected]


def test_other_header_bytes_are_kept():
    head = (
        b"From: Shop <a@shop.example>\r\n"
        b"Subject:   An  odd\r\n\t folded   subject\r\n"
        b"X-Odd :value\r\n"
        b"To: =?utf-8?q?J=C3=A4ne?= <jane@example.org>\r\n"
        b"List-Unsubscribe: <mailto:x@y>\r\n"
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    )
    raw = head + b"\r\nHello\r\n"
    rendered = render(raw, PLAN).data
    kept = head.replace(b"List-Unsubscribe: <mailto:x@y>\r\n", b"")
    assert rendered.startswith(kept + b"List-Unsubscribe: <" + UNSUB.encode())
    assert rendered.endswith(b"\r\n\r\nHello\r\n" + TEXT_FOOTER.replace("\n", "\r\n").encode())


def test_header_values_with_line_breaks_are_refused():
    with pytest.raises(ValueError, match="unsubscribe_url"):
        plan(unsubscribe_url="https://x\r\nBcc: victim@example.org")


# --- structure --------------------------------------------------------------------------


def attachment_message() -> tuple[bytes, list[bytes]]:
    """A mixed message and the exact bytes of each of its attachments."""
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content('<a href="https://inner.example/">[Unsubscribe]</a>', subtype="html")
    msg = EmailMessage()
    msg["From"] = "a@shop.example"
    msg.set_content("Body text\n")
    msg.add_alternative('<html><body><a href="https://a.example/">a</a></body></html>', "html")
    msg.add_attachment("[Unsubscribe] https://x.example/\n", filename="notes.txt")
    msg.add_attachment('<a href="https://b.example/">b</a>', "html", disposition="attachment")
    msg.add_attachment(b"%PDF-1.4 binary\x00\xff" * 50, maintype="application", subtype="pdf",
                       filename="invoice.pdf")  # fmt: skip
    msg.add_attachment(inner)
    raw = msg.as_bytes(policy=email.policy.SMTP)
    boundary = msg.get_boundary().encode()
    chunks = raw.split(b"\r\n--" + boundary)[2:-1]
    return raw, chunks


def test_attachments_are_untouched_byte_for_byte():
    raw, attachments = attachment_message()
    assert len(attachments) == 4
    rendered = render(raw, PLAN)
    for chunk in attachments:
        assert chunk in rendered.data
    assert rendered.links == ("https://a.example/",)
    got = bodies(rendered.data)
    assert got["text/plain"] == "Body text\n" + TEXT_FOOTER


def test_nested_related_inside_mixed_inside_alternative():
    msg = EmailMessage()
    msg["From"] = "a@shop.example"
    msg.set_content("Plain [WebVersion]\n")
    msg.add_alternative('<html><body><img src="cid:logo"><a href="https://a.example/">a</a></body></html>',
                        subtype="html")  # fmt: skip
    msg.get_payload()[1].add_related(b"\x89PNG....", maintype="image", subtype="png", cid="<logo>")
    msg.add_attachment(b"data", maintype="application", subtype="octet-stream", filename="a.bin")
    rendered = render(msg.as_bytes(policy=email.policy.SMTP), PLAN)
    got = bodies(rendered.data)
    assert got["text/plain"] == f"Plain {WEB}\n" + TEXT_FOOTER
    assert hrefs(got["text/html"]) == [click(0), UNSUB]
    assert rendered.links == ("https://a.example/",)


def test_no_content_type_is_a_plain_text_body():
    raw = b"From: a@shop.example\r\nSubject: x\r\n\r\nHi [WebVersion]\r\n"
    rendered = render(raw, PLAN).data
    assert rendered.endswith(f"\r\n\r\nHi {WEB}\r\n\r\nUnsubscribe: {UNSUB}\r\n".encode())


CT = b"Content-Type: "
CTE = b"Content-Transfer-Encoding: "
MIXED = CT + b'multipart/mixed; boundary="b"\r\n\r\n'
ODD_INPUTS = {
    "empty": b"",
    "headers-only": b"From: a@shop.example\r\nSubject: x",
    "no-headers": b"\r\nJust a body [Unsubscribe]\r\n",
    "bad-base64": CT + b"text/plain\r\n" + CTE + b"base64\r\n\r\nab=c=d\r\n",
    "unknown-cte": CT + b"text/plain\r\n" + CTE + b"x-uue\r\n\r\nbegin\r\n",
    "no-boundary": CT + b"multipart/mixed\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n",
    "no-close": MIXED + b"--b\r\n\r\nhi [WebVersion]\r\n",
    "near-miss": MIXED + b"--bx\r\n--b \r\n\r\nhi\r\n--b--",
    "bad-rfc2231": CT + b"text/plain; name*0=a; name*=b; name*x=c\r\n\r\nhi\r\n",
    "bad-charset": CT + b'text/plain; charset="utf-\x008"\r\n\r\nhi\r\n',
    "non-ascii-charset": CT + b"text/plain; charset=\xc3\xa9\r\n\r\nhi\r\n",
    "marked-section": CT + b'text/html\r\n\r\n<a href="https://a.example/">a</a><![foo[ x ]]>',
    "duplicate-cte": CT + b"text/plain\r\n" + CTE + b"7bit\r\n" + CTE + b"base64\r\n\r\nhi\r\n",
    "duplicate-ctype": CT + b"text/html\r\n" + CT + b"text/plain\r\n\r\n<p>hi</p>\r\n",
    "deep": b"".join(
        CT + f'multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode() for i in range(40)
    )
    + b"\r\nhi\r\n",
    "8bit-garbage": CT + b"text/plain; charset=utf-8\r\n\r\n\xff\xfe [WebVersion] \xc3\r\n",
}


@pytest.mark.parametrize("raw", ODD_INPUTS.values(), ids=ODD_INPUTS.keys())
def test_odd_input_never_raises(raw):
    rendered = render(raw, PLAN)
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in rendered.data
    data = rendered.data
    assert b"\r" not in data.replace(b"\r\n", b"") and b"\n" not in data.replace(b"\r\n", b"")
    email.message_from_bytes(data, policy=email.policy.default)


@pytest.mark.parametrize("name", ["duplicate-ctype", "duplicate-cte"])
def test_unreadable_part_is_sent_as_written(name):
    raw = ODD_INPUTS[name]
    rendered = render(raw, PLAN)
    assert rendered.links == ()
    assert rendered.data.endswith(b"\r\n\r\n" + raw.split(b"\r\n\r\n", 1)[1])


def test_undefined_bytes_survive_a_rewrite():
    rendered = render(ODD_INPUTS["8bit-garbage"], PLAN).data
    assert rendered.endswith(f"\r\n\r\n\xff\xfe {WEB} \xc3\r\n".encode("latin-1")
                             + f"\r\nUnsubscribe: {UNSUB}\r\n".encode())  # fmt: skip


def test_rendering_is_pure():
    raw = build(text="Hi [Unsubscribe]\n", html='<a href="https://a.example/">a</a>\n')
    assert render(raw, PLAN) == render(raw, PLAN)
    assert re.search(rb"^Message-ID: <" + OUR_ID.encode(), render(raw, PLAN).data, re.M)


def test_digest_parts_are_messages_and_left_alone():
    forwarded = b"Subject: old\r\n\r\nOld news [WebVersion]\r\n"
    raw = (
        b'From: a@shop.example\r\nContent-Type: multipart/digest; boundary="d"\r\n\r\n'
        b"--d\r\n\r\n" + forwarded + b"--d--\r\n"
    )
    rendered = render(raw, PLAN).data
    assert rendered.endswith(b"--d\r\n\r\n" + forwarded + b"--d--\r\n")


@pytest.mark.parametrize("tag", ["[unsubscribe]", "[UNSUBSCRIBE]", "[UnSubscribe]"])
def test_tag_in_any_case_is_replaced_as_submission_recognises_it(tag):
    raw = (b"From: a@shop.example\r\nTo: b@example.com\r\nSubject: s\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nBye: " + tag.encode() + b"\r\n")
    out = render(raw, PLAN).data
    assert tag.encode() not in out
    assert b"Bye: " + PLAN.unsubscribe_url.encode() in out
    assert out.count(PLAN.unsubscribe_url.encode()) == 2  # body and List-Unsubscribe: no footer


def test_only_ascii_letter_case_makes_a_tag_as_in_submission():
    # "\u017f" (long s) upper-cases to S, but submission compares bytes in ASCII case.
    raw = (b"From: a@shop.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           + "Bye: [un\u017fubscribe]\r\n".encode())
    out = render(raw, PLAN).data
    assert "Bye: [un\u017fubscribe]\r\n".encode() in out
    assert out.endswith(f"\r\nUnsubscribe: {UNSUB}\r\n".encode())  # no tag: the footer goes in


@pytest.mark.parametrize(("text", "html", "expected"), [
    ("Hello\n", None, False),
    ("See [WebVersion]\n", None, True),
    ("Hello\n", "<p><a href='[webversion]'>online</a></p>", True),
    ("Hello [Unsubscribe]\n", "<p>Hi</p>", False),
])
def test_web_version_says_whether_a_hosted_copy_is_linked(text, html, expected):
    assert render(build(text=text, html=html), PLAN).web_version is expected
