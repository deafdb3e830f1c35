"""DATA framing on a real StreamReader, fed whole, byte by byte and in odd chunks."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.smtp.data_reader import DataResult, has_bare_line_ending, read_data

NEXT = b"QUIT\r\n"


def feed_and_read(wire: bytes, chunks: list[int], *, max_size: int = 1000) -> tuple[DataResult,
                                                                                      bytes]:
    """Feed `wire` + a pipelined next command in pieces; return the result and what is left."""

    async def run():
        reader = asyncio.StreamReader(limit=1001)
        data = wire + NEXT
        task = asyncio.ensure_future(read_data(reader, max_size=max_size))
        position = 0
        for size in chunks + [len(data)]:
            reader.feed_data(data[position:position + size])
            position += size
            await asyncio.sleep(0)
            if position >= len(data):
                break
        reader.feed_eof()
        result = await task
        return result, await reader.read()

    return asyncio.run(run())


CASES = [
    pytest.param(b".\r\n", b"", id="empty message"),
    pytest.param(b"\r\n.\r\n", b"\r\n", id="one empty line"),
    pytest.param(b"a\r\n.\r\n", b"a\r\n", id="one line"),
    pytest.param(b"a\r\n..b\r\n..\r\n.\r\n", b"a\r\n.b\r\n.\r\n", id="dot-stuffing undone"),
    pytest.param(b"..\r\n.\r\n", b".\r\n", id="stuffed dot line first"),
    pytest.param(b"end.\r\nmore.\r\n.\r\n", b"end.\r\nmore.\r\n", id="lines ending in dots"),
]


def chunkings(length: int) -> list[list[int]]:
    rng = random.Random(length)
    return [[], [1] * (length + len(NEXT)), [rng.randint(1, 7) for _ in range(length)]]


@pytest.mark.parametrize("wire, content", CASES)
def test_framing_in_any_chunking(wire, content):
    for chunks in chunkings(len(wire)):
        result, rest = feed_and_read(wire, chunks)
        assert result == DataResult(content), chunks
        assert rest == NEXT, "the pipelined command after DATA must stay in the stream"


@pytest.mark.parametrize("wire", [
    b"a\n.\nMAIL FROM:<x@y.example>\r\n.\r\n",
    b"a\r\n.\nb\r\n.\r\n",
    b"a\n.\r\nb\r\n.\r\n",
    b"a\r.\rb\r\n.\r\n",
    b"bare\nlf\r\n.\r\n",
    b"bare\rcr\r\n.\r\n",
])
def test_fake_terminators_are_data_and_refused(wire):
    for chunks in chunkings(len(wire)):
        result, rest = feed_and_read(wire, chunks)
        assert result == DataResult(None, bare_line_ending=True), chunks
        assert rest == NEXT


def test_too_big_is_discarded_up_to_the_terminator():
    wire = b"x" * 70 + b"\r\n"
    wire = wire * 100 + b".\r\n"
    for chunks in chunkings(len(wire))[:1] + [[100] * 80]:
        result, rest = feed_and_read(wire, chunks, max_size=1000)
        assert result == DataResult(None, too_big=True)
        assert rest == NEXT


def test_exactly_at_the_limit_is_kept():
    wire = b"y" * 998 + b"\r\n.\r\n"
    result, _ = feed_and_read(wire, [], max_size=1000)
    assert result.content == b"y" * 998 + b"\r\n"


def test_client_leaving_mid_data_is_a_connection_reset():
    async def run():
        reader = asyncio.StreamReader(limit=1001)
        reader.feed_data(b"partial message\r\n")
        reader.feed_eof()
        await read_data(reader, max_size=1000)

    with pytest.raises(ConnectionResetError):
        asyncio.run(run())


@given(st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b".", b" "]), max_size=40))
def test_bare_line_ending_is_any_cr_or_lf_outside_a_pair(pieces):
    data = b"".join(pieces)
    outside_pairs = data.replace(b"\r\n", b"")
    assert has_bare_line_ending(data) == (b"\r" in outside_pairs or b"\n" in outside_pairs)


@given(st.lists(st.sampled_from([b"", b".", b"..", b".x", b"a.", b"\r", b"ab"]), max_size=12),
       st.lists(st.integers(1, 9), max_size=30))
def test_any_stuffed_message_comes_back_whole_in_any_chunking(lines, chunks):
    """One search finds both stuffed lines and the terminator, also across chunk edges."""
    content = b"".join(line + b"\r\n" for line in lines)
    stuffed = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n"
                       for line in lines)
    result, rest = feed_and_read(stuffed + b".\r\n", chunks)
    if b"\r" in content.replace(b"\r\n", b""):  # the line that is a bare CR
        assert result == DataResult(None, bare_line_ending=True)
    else:
        assert result == DataResult(content)
    assert rest == NEXT
