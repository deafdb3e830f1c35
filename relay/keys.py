"""Every Redis key of the relay, in one place.

| key | type | meaning |
| --- | --- | --- |
| `tidings:accounts` | set | names of all accounts |
| `tidings:account:{name}` | hash | rules: timezone, rate, unsubscribe, track_opens, track_clicks, created |
| `tidings:account:{name}:version` | string | bumped by every change of the account's rules; caches compare it |
| `tidings:account:{name}:senders` | set | confirmed senders, lower case, `user@domain` or `@domain` |
| `tidings:account:{name}:ips` | set | the IP allowlist as normalised CIDR strings |
| `tidings:account:{name}:logins` | set | SMTP logins of the account |
| `tidings:account:{name}:keys` | set | API key ids of the account |
| `tidings:login:{login}` | hash | `account`, `hash` (keyed hash of the password), `created` |
| `tidings:apikey:{key_id}` | hash | `account`, `hash` (keyed hash of the key's secret), `created` |
| `tidings:suppressed:{name}` | set | addresses suppressed for the account (lower case) |
| `tidings:msg:{id}` | hash | one accepted message: metadata, `status`, `attempts`, `{outcome}_at`, and the raw bytes (`data`) until it is finished |
| `tidings:queue` | stream | ids of messages due for a delivery attempt (field `id`); entries leave when a worker acknowledges them |
| `tidings:retry` | sorted set | deferred message ids, scored by the epoch second of their next attempt |
| `tidings:links:{id}` | list | the original links of a delivered message's HTML part, in click-token index order |
| `tidings:web:{id}` | string | the hosted copy of a delivered message (rendered bytes) behind its [WebVersion] link |
| `tidings:dkim:{domain}` | hash | the domain's DKIM key: `selector`, `algorithm` (rsa or ed25519), `private_key` (PEM), `public_key` (base64), `created` |
| `tidings:rate:{name}:{minute}` | string | messages accepted in that minute (epoch minute), expires |
| `tidings:authfail:{ip}` | string | failed AUTH attempts from the address in the lockout window |

Pub/sub channel `tidings:account-changes`: the name of an account whose rules changed,
published after its version key was bumped, so caches can drop it at once.

An account name is `[a-z0-9][a-z0-9._-]*`, so it never contains a `:` and keys cannot collide.
"""

PREFIX = "tidings:"
ACCOUNTS = PREFIX + "accounts"
QUEUE = PREFIX + "queue"
#: Deferred messages by next attempt time; due ones are moved back into QUEUE.
RETRY = PREFIX + "retry"
#: Pub/sub channel announcing accounts whose rules changed (payload: account name).
ACCOUNT_CHANGES = PREFIX + "account-changes"
#: Consumer group of the delivery workers on QUEUE.
QUEUE_GROUP = "delivery"


def account(name: str) -> str:
    return f"{PREFIX}account:{name}"


def version(name: str) -> str:
    return f"{PREFIX}account:{name}:version"


def senders(name: str) -> str:
    return f"{PREFIX}account:{name}:senders"


def ips(name: str) -> str:
    return f"{PREFIX}account:{name}:ips"


def logins(name: str) -> str:
    return f"{PREFIX}account:{name}:logins"


def api_keys(name: str) -> str:
    return f"{PREFIX}account:{name}:keys"


def login(login_name: str) -> str:
    return f"{PREFIX}login:{login_name}"


def api_key(key_id: str) -> str:
    return f"{PREFIX}apikey:{key_id}"


def suppressed(name: str) -> str:
    return f"{PREFIX}suppressed:{name}"


def message(message_id: str) -> str:
    return f"{PREFIX}msg:{message_id}"


def rate(name: str, minute: int) -> str:
    return f"{PREFIX}rate:{name}:{minute}"


def auth_failures(ip: str) -> str:
    return f"{PREFIX}authfail:{ip}"


def links(message_id: str) -> str:
    return f"{PREFIX}links:{message_id}"


def web_copy(message_id: str) -> str:
    return f"{PREFIX}web:{message_id}"


def dkim(domain: str) -> str:
    return f"{PREFIX}dkim:{domain.lower()}"
