"""Whether a hit on a tracking link was made by a machine on the reader's behalf, not the reader.

Invariant: only a request we have a clear reason to distrust is a prefetch, so when in
doubt a hit is a real open or click. A prefetch is still recorded (with ``prefetch: true``)
and counted in ``opened``/``clicked``; it only never makes the message's first unique
open or click. Guessing wrong in that direction costs a unique count; guessing wrong the
other way would hide real readers, which is worse for the people reading these figures.

Signals, each with the reason it is trusted:

- **Within 2 s of delivery.** Security gateways (Proofpoint URL Defense, Mimecast,
  Microsoft Safe Links, Barracuda) fetch links and images while they scan inbound mail;
  nobody has opened a message two seconds after it reached the server.
- **No User-Agent, or exactly ``Mozilla/5.0``.** Apple Mail Privacy Protection loads all
  remote content through Apple's proxies soon after the message arrives, opened or not,
  and sends this bare string; a real browser or mail client always adds its details.
- **Scanner markers in the User-Agent** (case-insensitive substrings, :data:`SCANNER_MARKERS`):
  vendor names of the gateways above, URL-rewriting services, and HTTP libraries and
  command-line tools (``python-requests``, ``curl/``, ``wget/``, ``go-http-client``),
  plus the word ``bot`` at the end of a word (``Googlebot/2.1``, ``Slackbot-LinkExpanding``).

Deliberately *not* prefetches: ``GoogleImageProxy`` (Gmail fetches images through it
when the reader opens the message), ``YahooMailProxy`` (likewise), and ``Microsoft
Office``/``Outlook`` agents (the desktop client rendering for its user).
"""

from __future__ import annotations

import re

#: Seconds after delivery within which any hit is a scanner's.
SCANNER_WINDOW = 2.0
#: The whole User-Agent Apple Mail Privacy Protection's proxies send.
APPLE_PROXY_AGENT = "Mozilla/5.0"
#: Lower-case substrings of User-Agents that belong to gateways, scanners and tools.
SCANNER_MARKERS = (
    "barracuda", "proofpoint", "mimecast", "urldefense", "safelinks", "ironport",
    "python-requests", "python-urllib", "curl/", "wget/", "go-http-client", "headlesschrome",
)  # fmt: skip
#: Agents that announce themselves as robots: "Googlebot/2.1", "Slackbot-LinkExpanding".
_BOT_WORD = re.compile(r"bot\b", re.IGNORECASE)
#: Agents that look like robots to the rules above but fetch only when a person reads.
_READER_PROXIES = ("googleimageproxy", "yahoomailproxy")


def is_prefetch(*, user_agent: str, seconds_since_delivery: float | None) -> bool:
    """True when the hit was made by a machine; ``seconds_since_delivery`` None when unknown."""
    # A negative value is a clock a little behind the worker's: still "just delivered".
    if seconds_since_delivery is not None and seconds_since_delivery < SCANNER_WINDOW:
        return True
    agent = user_agent.strip()
    if agent in ("", APPLE_PROXY_AGENT):
        return True
    lowered = agent.lower()
    if any(proxy in lowered for proxy in _READER_PROXIES):
        return False
    return any(marker in lowered for marker in SCANNER_MARKERS) or bool(_BOT_WORD.search(agent))
