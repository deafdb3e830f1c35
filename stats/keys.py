"""Every Redis key of the statistics write side, in one place.

| key | type | meaning |
| --- | --- | --- |
| `tidings:stats:{account}:day:{YYYY-MM-DD}` | hash | event name -> count for that local day of the account |
| `tidings:stats:{account}:log` | stream | rejections and processing problems (field `event`: Event JSON) |
| `tidings:stats:-:log` | stream | the operator log: rejections before any account is known |
| `tidings:stats:timeline:{message id}` | list | the message's events in order (Event JSON) |
| `tidings:stats:{account}:messages` | sorted set | the account's message ids, scored by acceptance time (epoch s) |
| `tidings:stats:{account}:rcpt:{recipient}` | sorted set | the same, for one recipient (lower case) |
| `tidings:stats:-:totals` | hash | event counter name -> count since the start, all accounts (for /metrics) |
| `tidings:stats:-:rejections` | hash | `"<code> <rule>"` -> rejections since the start, all accounts (for /metrics) |
| `tidings:stats:-:config` | hash | `retention_day`, `retention_timeline` (seconds): TIDINGS_STATS_RETENTION and TIDINGS_MESSAGE_RETENTION, written at start-up; absent fields mean the defaults below |
| `tidings:stats:-:sessions` | hash | submission process name -> `"<open sessions> <epoch s of the report>"` |
| `tidings:stats:-:delivery-latency` | hash | histogram of acceptance-to-delivery seconds: `le:<bound>` counts, `sum`, `count` |

Day hashes and timelines expire (RETENTION_*); logs are capped in length (LOG_MAXLEN).
The two message indexes (for `/v1/messages` search) are written by the acceptance script
and live as long as a timeline: each write renews the key's expiry and drops the members
older than RETENTION_TIMELINE, so an index stays bounded; readers skip a member whose
message is gone.
`-` cannot be an account name, so the operator log cannot collide with an account's.
The three `-:` figures never expire: they are monotonic counters for Prometheus.
"""

PREFIX = "tidings:stats:"
OPERATOR = "-"
#: Defaults of the retention settings (seconds).
#: Daily counters are kept this long (seconds): a year and a bit, for year-on-year views.
RETENTION_DAYS = 400 * 86400
#: Per-message timelines are kept this long (seconds).
RETENTION_TIMELINE = 30 * 86400
#: Approximate cap of each log stream.
LOG_MAXLEN = 100_000
#: Retention settings as the Lua scripts read them (see the table above).
CONFIG = f"{PREFIX}{OPERATOR}:config"
#: Counters across all accounts, written by record_event and the delivery ledger.
TOTALS = f"{PREFIX}{OPERATOR}:totals"
REJECTIONS = f"{PREFIX}{OPERATOR}:rejections"
DELIVERY_LATENCY = f"{PREFIX}{OPERATOR}:delivery-latency"
SESSIONS = f"{PREFIX}{OPERATOR}:sessions"
#: Upper bounds (seconds) of the delivery latency histogram's buckets.
LATENCY_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 14400, 86400)


def day(account: str, local_date: str) -> str:
    return f"{PREFIX}{account}:day:{local_date}"


def log(account: str | None) -> str:
    return f"{PREFIX}{account or OPERATOR}:log"


def timeline(message_id: str) -> str:
    return f"{PREFIX}timeline:{message_id}"


def messages(account: str) -> str:
    return f"{PREFIX}{account}:messages"


def recipient(account: str, address: str) -> str:
    return f"{PREFIX}{account}:rcpt:{address.lower()}"
