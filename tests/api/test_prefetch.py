"""The prefetch heuristic as a table: who is a machine, who is a reader."""

from __future__ import annotations

import pytest

from api.prefetch import is_prefetch

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


@pytest.mark.parametrize(("user_agent", "seconds", "expected"), [
    (CHROME, 3600.0, False),
    (CHROME, None, False),
    (CHROME, 1.9, True),              # a gateway scanning inbound mail
    (CHROME, -0.5, True),             # clocks a little apart: still just delivered
    (CHROME, 2.0, False),
    ("Mozilla/5.0", 3600.0, True),    # Apple Mail Privacy Protection
    (" Mozilla/5.0 ", 3600.0, True),
    ("", 3600.0, True),
    (GMAIL, 3600.0, False),           # Gmail fetches when its reader opens
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", 60, False),
    ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531)", 60, False),
    ("Mozilla/5.0 (compatible; Barracuda Sentinel)", 60, True),
    ("Proofpoint URL Defense", 60, True),
    ("Mimecast-Url-Protect", 60, True),
    ("python-requests/2.32.3", 60, True),
    ("curl/8.5.0", 60, True),
    ("Wget/1.21", 60, True),
    ("Go-http-client/1.1", 60, True),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 60, True),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 60, True),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15", 60, False),
])  # fmt: skip
def test_is_prefetch(user_agent, seconds, expected):
    assert is_prefetch(user_agent=user_agent, seconds_since_delivery=seconds) is expected
