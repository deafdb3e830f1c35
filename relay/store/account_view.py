"""Where the statistics API finds an account's messages.

`stats.query` must not name relay's keys itself, so the API hands it this key builder.
"""

from __future__ import annotations

from relay import keys

#: The key of a message's hash, for readers outside relay (the API, and `stats.query`
#: through it).
message_key = keys.message
