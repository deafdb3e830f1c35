"""`tidings demo` runs the tour end to end on a machine with nothing configured."""

from __future__ import annotations

import os
import re
import subprocess
import sys


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
    assert "{'accepted': '2', 'rejected': '2', 'suppressed': '1'}" in out
    assert "delivery queue (tidings:queue): 1" in out
    assert "Traceback" not in done.stderr
