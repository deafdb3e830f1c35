"""`tidings demo` runs the tour end to end on a machine with nothing configured."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from pathlib import Path


def test_demo_tour(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    done = subprocess.run([sys.executable, "-m", "relay.cli", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"alice@example.com\s+-> 250 2\.0\.0 Ok: queued as \w{26}", out)
    assert "-> 554 5.7.1 Disallowed source address: ceo@elsewhere.example" in out
    assert "-> 554 5.7.1 Not allowed attachement type pdf" in out
    assert re.search(r"unsubscribed\s+-> 250 2\.0\.0 Ok: queued as \w{26}", out)
    # The figures came from the statistics API, over HTTP, with the account's key.
    assert re.search(r"GET /v1/stats\?from=\S+ with the account's API key -> 200", out)
    assert ("{'accepted': 2, 'rejected': 2, 'suppressed': 1, 'delivered': 1, 'opened': 1, "
            "'opened_unique': 1, 'clicked': 1, 'clicked_unique': 1}") in out
    # The open and the click went over the demo's own HTTP service.
    assert re.search(r"/t/o/\S+ \(open pixel\) -> 200 OK", out)
    assert re.search(r"/t/c/\S+ \(tracked link\) -> 302 https://demo\.example/start\?from=welcome",
                     out)
    assert "delivered 1 message(s) into" in out
    # The message reached the demo Maildir, rendered and signed.
    path = Path(re.search(r"^  (/\S+/Maildir/new/\S+):$", out, re.MULTILINE)[1])
    delivered = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert delivered["To"] == "alice@example.com"
    assert "d=demo.example" in delivered["DKIM-Signature"]
    assert delivered["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "[Unsubscribe]" not in delivered.get_body(("plain",)).get_content()
    assert "Traceback" not in done.stderr
