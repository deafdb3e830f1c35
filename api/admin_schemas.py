"""Request and response bodies of the admin API (`/admin/v1/`), the HTTP face of `tidings account`.

Invariant: these models carry shapes, not rules. Account names, timezones, rates, modes,
senders and networks are validated by `relay.store.accounts`, the one place the CLI uses
too, so both front ends accept the same values and refuse the rest with the same message.
A secret appears only in the response that created it (`AccountCreated`, `LoginCreated`,
`KeyCreated`); `AccountOut` lists login names and key ids, never a password or key.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    # A misspelt field ("track_open") is refused rather than silently changing nothing.
    model_config = ConfigDict(extra="forbid")


class AccountIn(_In):
    name: str = Field(description="Lowercase letters, digits, '.', '_' or '-'.")
    timezone: str = Field("UTC", description="IANA zone of the daily statistics.")


class RulesIn(_In):
    """Only the rules given change; a rule left out (or null) stays as it is."""

    timezone: str | None = Field(None, description="IANA zone, e.g. Europe/Berlin.")
    rate: int | None = Field(None, description="Messages per minute; 0 = no limit.")
    unsubscribe: str | None = Field(None, description="inject, require or off.")
    track_opens: bool | None = None
    track_clicks: bool | None = None


class SenderIn(_In):
    address: str = Field(description="A confirmed sender: user@domain, or @domain for all.")


class NetworkIn(_In):
    cidr: str = Field(description="CIDR, v4 or v6; a bare address means /32 or /128.")


class LoginIn(_In):
    login: str | None = Field(None, description="The login's name; generated when left out.")


class AccountList(BaseModel):
    accounts: list[str]


class AccountOut(BaseModel):
    name: str
    timezone: str
    rate: int
    unsubscribe: str
    track_opens: bool
    track_clicks: bool
    senders: list[str]
    ips: list[str]
    logins: list[str]
    api_keys: list[str] = Field(description="Key ids only; a key itself is shown once.")


class AccountCreated(BaseModel):
    account: str
    login: str
    password: str = Field(description="Shown only now; Tidings keeps just a hash.")
    api_key: str = Field(description="Shown only now; Tidings keeps just a hash.")
    api_key_id: str


class SenderList(BaseModel):
    senders: list[str]


class SenderOut(BaseModel):
    sender: str = Field(description="As stored: lowercased.")


class NetworkList(BaseModel):
    ips: list[str]


class NetworkOut(BaseModel):
    ip: str = Field(description="As stored: a network, host bits cleared.")


class LoginCreated(BaseModel):
    login: str
    password: str = Field(description="Shown only now; Tidings keeps just a hash.")


class KeyCreated(BaseModel):
    key_id: str
    api_key: str = Field(description="Shown only now; Tidings keeps just a hash.")
