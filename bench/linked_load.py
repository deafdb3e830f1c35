"""Run the shared load client with an HTML body that carries links, for end-to-end runs.

The shared `smtpload.py` builds a body without links; the end-to-end comparison is
specified at 5 KB HTML with 20 links, which is what click tracking has to rewrite. This
wrapper imports the shared client unchanged, swaps in a body of the same size with
LINKS links, and hands over to its `main` (its --procs workers fork, so they inherit it).

    python bench/linked_load.py [smtpload options]      (LINKS=20 by default)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TOOLS = Path(os.environ.get("BENCH_TOOLS", Path(__file__).resolve().parents[1] / ".."
                            / "shared" / "bench"))
sys.path.insert(0, str(TOOLS))
import smtpload  # noqa: E402  (the shared tool, found only at run time)

LINKS = int(os.environ.get("LINKS", "20"))
_plain_body = smtpload.build_body


def linked_body(size: int) -> bytes:
    """`size` bytes of HTML whose first paragraphs hold LINKS distinct links."""
    links = b"".join(
        b'<p><a href="https://shop.example/orders/%d?utm_source=mail&amp;n=%d">Order %d</a>'
        b"</p>\r\n" % (i, i, i) for i in range(LINKS))
    body = _plain_body(max(size - len(links), 0))
    at = body.index(b"<body>\r\n") + len(b"<body>\r\n")
    return body[:at] + links + body[at:]


smtpload.build_body = linked_body

if __name__ == "__main__":
    sys.exit(smtpload.main())
