"""Settings: every TIDINGS_* variable declared once, validated once, then passed down as values.

Built in the CLI entry point, never at import. A bad value stops start-up with one line
naming the variable (`SettingsError`), never a traceback. `docs/configuration.md` is
generated from the field descriptions (`markdown_table`); a test keeps it current.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "TIDINGS_"
#: Delivery URI schemes SPEC.md section 1 names; anything else refuses to start.
DELIVERY_SCHEMES = ("mx", "smtp", "smtps", "maildir")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


class SettingsError(Exception):
    """One line for the operator: which TIDINGS_ variable is wrong and how."""


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `90s`, `15m`, `48h`, `2d`: operators write durations, not floats."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration such as 30s, 15m, 48h or 2d, got {value!r}")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"must be a positive duration, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
Port = Annotated[int, Field(ge=0, le=65535)]


def _default_hostname() -> str:
    return socket.getfqdn() or "localhost"


class Settings(BaseSettings):
    # An empty variable means unset: `TIDINGS_ADMIN_TOKEN=` must not become an empty token.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid",
                                      env_ignore_empty=True)

    redis_url: str | None = Field(
        None,
        description="Redis to use (redis://, rediss://, unix://). Unset: start an embedded "
        "redis-server with an append-only file fsynced on every write, under the data directory.",
    )
    data_dir: Path = Field(
        Path("./tidings-data"),
        description="Embedded Redis files, generated TLS certificate, generated secret, Maildir.",
    )
    hostname: str = Field(
        default_factory=_default_hostname,
        description="Name in the SMTP greeting, Message-IDs and HELO when delivering "
        "(default: the machine's FQDN).",
    )
    bind: str = Field(
        "",
        description="Address the listeners bind to; empty: every interface, IPv4 and IPv6.",
    )
    smtp_port: Port = Field(587, description="Submission with STARTTLS.")
    smtps_port: Port = Field(465, description="Submission with implicit TLS.")
    http_port: Port = Field(8080, description="Tracking, statistics API, metrics.")
    bounce_port: Port = Field(25, description="Inbound listener for bounce and complaint reports.")
    tls_cert: Path | None = Field(
        None,
        description="PEM certificate chain for 587/465. Unset: a self-signed certificate is "
        "generated into the data directory and a warning is logged.",
    )
    tls_key: Path | None = Field(None, description="PEM private key for TIDINGS_TLS_CERT.")
    public_url: str | None = Field(
        None,
        description="Base of every tracking, unsubscribe and web-version link, used exactly as "
        "given (default: http://HOSTNAME:HTTP_PORT; production should use https).",
    )
    secret: str | None = Field(
        None,
        description="Key for signing tracking tokens. Unset: generated once and kept in the "
        "data directory.",
    )
    delivery: str = Field(
        "mx",
        description="mx: deliver to the recipient's MX. smtp://user:pass@host:port or "
        "smtps://user:pass@host:port: hand everything to a smarthost. maildir:///path: write "
        "deliveries to a Maildir.",
    )
    max_message_size: int = Field(512000, gt=0, description="Largest accepted message, in bytes.")
    bounce_domain: str | None = Field(
        None, description="Domain of the VERP return paths (default: HOSTNAME)."
    )
    max_queue_age: Duration = Field(
        48 * 3600.0, description="After this a deferred message bounces as expired (e.g. 48h)."
    )
    admin_token: str | None = Field(
        None, description="Bearer token of the admin API; unset: the admin API is off."
    )
    smtp_idle_timeout: Duration = Field(
        300.0, description="A submission session idle this long is closed (e.g. 5m)."
    )
    max_sessions_per_ip: int = Field(
        100, ge=0, description="Concurrent submission sessions per client address; 0: no cap."
    )
    auth_max_failures: int = Field(
        10,
        gt=0,
        description="Failed AUTH attempts from one address within TIDINGS_AUTH_LOCKOUT before "
        "that address is refused with 421; earlier failures are answered ever more slowly.",
    )
    auth_lockout: Duration = Field(
        900.0, description="Window for counting AUTH failures and length of the lockout."
    )
    redis_timeout: Duration = Field(
        5.0,
        description="Longest wait for Redis in an SMTP transaction before the client gets "
        "451 4.3.0 and retries.",
    )
    proxy_protocol: bool = Field(
        False,
        description="Expect a PROXY protocol header (v1 or v2) from a load balancer on the "
        "submission ports; the client address is taken from it.",
    )
    smtp_processes: int = Field(
        0,
        ge=0,
        le=64,
        description="Submission processes sharing the ports (SO_REUSEPORT) in `tidings serve` "
        "and `tidings smtp`; 0: one per CPU core.",
    )
    dns_servers: str = Field(
        "",
        description="Comma-separated nameservers (`ip` or `ip:port`) for MX lookups; empty: "
        "the system's resolver. For staging and tests with a DNS server of their own.",
    )
    mx_port: Port = Field(
        25,
        description="Port of the recipients' mail servers with TIDINGS_DELIVERY=mx; change it "
        "only for staging and tests.",
    )
    delivery_concurrency: int = Field(
        100, gt=0, le=10000, description="Deliveries one worker process runs at the same time."
    )
    connections_per_destination: int = Field(
        10,
        gt=0,
        description="Open SMTP connections one worker keeps to one destination (an MX host set "
        "or the smarthost); each carries message after message.",
    )
    delivery_timeout: Duration = Field(
        300.0,
        description="Longest delivery attempt, from connecting to the final reply; longer "
        "counts as a network failure and is retried.",
    )
    delivery_takeover: Duration = Field(
        60.0,
        description="A message whose worker has not renewed its claim for this long is taken "
        "over by another worker. Live workers renew every quarter of it.",
    )
    web_version_retention: Duration = Field(
        30 * 86400.0,
        description="How long the hosted copy behind the [WebVersion] link and the original "
        "links behind click tracking are kept (e.g. 30d).",
    )
    message_retention: Duration = Field(
        30 * 86400.0,
        description="How long a message's record, its events and its search entries are kept "
        "after its last event (e.g. 30d); its unsubscribe link works as long. Set the same on "
        "every host.",
    )
    stats_retention: Duration = Field(
        400 * 86400.0,
        description="How long the daily counters behind /v1/stats are kept (e.g. 400d).",
    )
    worker_processes: int = Field(
        0,
        ge=0,
        le=64,
        description="Delivery worker processes in `tidings serve` and `tidings worker`; 0: one "
        "per CPU core.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Addresses of reverse proxies whose X-Forwarded-For the HTTP service "
        "trusts for the client address of opens and clicks (comma-separated, `*` for any).",
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")

    @field_validator("hostname", "bounce_domain")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?",
                                                  value):
            raise ValueError(f"not a valid host name: {value!r}")
        return value

    @field_validator("delivery")
    @classmethod
    def _delivery(cls, value: str) -> str:
        scheme = urlsplit(value).scheme if "://" in value else value
        if scheme not in DELIVERY_SCHEMES:
            raise ValueError(f"Unknown delivery URI scheme: {scheme}")
        if scheme in ("smtp", "smtps"):
            try:
                host, port = urlsplit(value).hostname, urlsplit(value).port
            except ValueError:
                host, port = None, -1
            if not host or port == 0 or port == -1:
                raise ValueError(f"a smarthost URI needs a host and an optional port from 1 to "
                                 f"65535, as in {scheme}://user:pass@host:port")
        if scheme == "maildir" and not urlsplit(value).path:
            raise ValueError("a Maildir URI needs a path, as in maildir:///var/mail/tidings")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and (urlsplit(value).scheme not in ("http", "https")
                                  or not urlsplit(value).hostname):
            raise ValueError(f"must be an https:// or http:// URL with a host, got {value!r}")
        return value

    @field_validator("tls_cert", "tls_key")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        if value and value != "localhost":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"must be an IP address of this machine or empty for all, "
                                 f"got {value!r}") from None
        return value

    @field_validator("dns_servers")
    @classmethod
    def _dns_servers(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
            try:
                ipaddress.ip_address(host or item)
                if port and not 0 < int(port) < 65536:
                    raise ValueError
            except ValueError:
                raise ValueError(f"expected IP addresses with an optional :port, got {item!r}"
                                 ) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR, got {value!r}")
        return value.upper()

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TIDINGS_TLS_CERT and TIDINGS_TLS_KEY must be set together")
        return self

    @property
    def effective_smtp_processes(self) -> int:
        return self.smtp_processes or os.cpu_count() or 1

    @property
    def effective_worker_processes(self) -> int:
        return self.worker_processes or os.cpu_count() or 1

    @property
    def effective_public_url(self) -> str:
        return self.public_url or f"http://{self.hostname}:{self.http_port}"

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        """TIDINGS_DNS_SERVERS as (address, port) pairs; empty: use the system's resolver."""
        pairs = []
        for item in filter(None, (part.strip() for part in self.dns_servers.split(","))):
            if item.count(":") == 1:
                host, port = item.split(":")
                pairs.append((host, int(port)))
            else:
                pairs.append((item, 53))
        return pairs

    @property
    def effective_bounce_domain(self) -> str:
        return self.bounce_domain or self.hostname

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the `--config` TOML file, whose keys are the same TIDINGS_* names as the env."""

    path: Path | None = None

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        with open(self.path, "rb") as handle:
            raw = tomllib.load(handle)
        values = {}
        for key, value in raw.items():
            name = key.upper()
            if not name.startswith(ENV_PREFIX):
                raise SettingsError(f"{self.path}: unknown setting {key} (names start with "
                                    f"{ENV_PREFIX})")
            values[name.removeprefix(ENV_PREFIX).lower()] = value
        return values


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from env (and a TOML file); raise SettingsError with one line on failure."""
    _TomlSource.path = config
    try:
        if config is not None and not config.is_file():
            raise SettingsError(f"--config: no such file: {config}")
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(_one_line(error)) from None
    except (tomllib.TOMLDecodeError, OSError) as error:
        raise SettingsError(f"--config {config}: {error}") from None
    finally:
        _TomlSource.path = None


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "__root__"]
    message = first.get("msg", "invalid value").removeprefix("Value error, ")
    if not loc:
        return message
    name = ENV_PREFIX + loc[0].upper()
    if first.get("type") == "extra_forbidden":
        return f"{name}: unknown setting"
    given = first.get("input")
    # Our own validators already quote the value; pydantic's type errors do not.
    if first.get("type") == "value_error" or given is None or isinstance(given, dict):
        return f"{name}: {message}"
    return f"{name}: {message} (got {given!r})"


def markdown_table() -> str:
    """The configuration reference, generated so it cannot drift from the code."""
    lines = [
        "# Configuration",
        "",
        "Generated from `relay/settings.py` (`python -m relay.settings > docs/configuration.md`).",
        "Every setting is an environment variable, or the same name as a key of the TOML file",
        "given with `--config` (environment wins over the file).",
        "Durations take `s`, `m`, `h`, `d`.",
        "A bad value stops start-up with one line naming the variable.",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = "machine FQDN"
        elif field.default is None:
            default = "unset"
        else:
            default = str(field.default)
        lines.append(f"| `{ENV_PREFIX}{name.upper()}` | `{default}` | {field.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
