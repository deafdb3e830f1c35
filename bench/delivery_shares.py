"""Shares of a delivery's CPU by part, from a py-spy raw profile of profile_delivery.py.

    py-spy record -r 1000 -f raw -o deliver.txt -- python bench/profile_delivery.py 4000
    python bench/delivery_shares.py deliver.txt

Why not cProfile's cumulative times: a profiler that traces every call inflates code made
of many small Python calls (the tokenizer, dkimpy) against code that spends its time in C
(RSA, hashing). A sampler does not. Only samples inside the worker's delivery loop
count; each is charged to the part of the innermost frame that names one.
"""

from __future__ import annotations

import collections
import sys

#: (part, frames that belong to it); the innermost matching frame decides.
PARTS = [
    ("DKIM: the RSA or Ed25519 signature", ["_FastDKIM.gen_header (relay/delivery/dkim.py:97)"]),
    ("DKIM: canonicalization, hashes, tags", ["Signer.sign (relay/delivery/dkim.py"]),
    ("parsing: MIME structure and charsets",
     ["read_part (relay/delivery/mime_parts", "body_parts (relay/delivery/mime_parts",
      "_decode (relay/delivery/render"]),
    ("rendering: link tokens (HMAC)", ["Links.plan", "LinkIndex.track"]),
    ("rendering: HTML, edits, re-encoding", ["render (relay/delivery/render.py"]),
    ("SMTP client", ["_PooledSmtp.deliver", "SmarthostTransport", "MxTransport"]),
    ("Redis: load, suppression, finish", ["ledger.py", "Worker._finish", "RedisMux"]),
]
LOOP = ("Worker._deliver", "Worker.drain", "Worker._renew", "Worker.housekeeping")


def shares(lines) -> dict[str, float]:
    counts: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, _, samples = line.rstrip().rpartition(" ")
        if not any(frame in stack for frame in LOOP):
            continue
        part = "worker loop, asyncio, other"
        for frame in reversed(stack.split(";")):
            found = next((name for name, marks in PARTS if any(m in frame for m in marks)), None)
            if found:
                part = found
                break
        counts[part] += int(samples)
    total = sum(counts.values()) or 1
    return {part: n / total for part, n in counts.most_common()}


if __name__ == "__main__":
    with open(sys.argv[1]) as raw:
        for part, share in shares(raw).items():
            print(f"{share:6.1%}  {part}")
