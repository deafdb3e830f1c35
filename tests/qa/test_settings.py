"""Settings (SPEC.md section 1): defaults, durations, one-line errors, the TOML file,
start-up failures through the real command line, and the generated reference page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from relay.settings import SettingsError, load_settings, markdown_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No TIDINGS_* from the machine running the tests leaks into a case."""
    for name in [name for name in os.environ if name.startswith("TIDINGS_")]:
        monkeypatch.delenv(name)


def test_defaults_of_the_spec():
    settings = load_settings()
    assert settings.redis_url is None
    assert settings.smtp_port == 587
    assert settings.smtps_port == 465
    assert settings.http_port == 8080
    assert settings.bounce_port == 25
    assert settings.max_message_size == 512000
    assert settings.delivery == "mx"
    assert settings.max_queue_age == 48 * 3600 == 172800
    assert settings.data_dir == Path("./tidings-data")
    assert settings.tls_cert is None and settings.tls_key is None
    assert settings.admin_token is None
    assert settings.effective_bounce_domain == settings.hostname
    assert settings.effective_public_url == f"http://{settings.hostname}:8080"


def test_derived_defaults_follow_hostname_and_http_port(monkeypatch):
    monkeypatch.setenv("TIDINGS_HOSTNAME", "relay.example")
    monkeypatch.setenv("TIDINGS_HTTP_PORT", "9090")
    settings = load_settings()
    assert settings.effective_public_url == "http://relay.example:9090"
    assert settings.effective_bounce_domain == "relay.example"


@pytest.mark.parametrize(("given", "seconds"), [
    ("90", 90), ("90s", 90), ("15m", 900), ("48h", 172800), ("2d", 172800), ("1w", 604800),
    ("1.5h", 5400), ("500ms", 0.5),
])
def test_durations(monkeypatch, given, seconds):
    monkeypatch.setenv("TIDINGS_MAX_QUEUE_AGE", given)
    assert load_settings().max_queue_age == pytest.approx(seconds)


@pytest.mark.parametrize(("uri"), [
    "mx", "smtp://user:pass@smarthost.example:587", "smtps://user:pass@smarthost.example:465",
    "maildir:///var/mail/tidings",
])
def test_delivery_uris_of_the_spec_are_accepted(monkeypatch, uri):
    monkeypatch.setenv("TIDINGS_DELIVERY", uri)
    assert load_settings().delivery == uri


BAD = [
    # (variable, value, text the one line must contain)
    ("TIDINGS_SMTP_PORT", "abc", "integer"),
    ("TIDINGS_SMTP_PORT", "70000", "65535"),
    ("TIDINGS_SMTPS_PORT", "-1", "0"),
    ("TIDINGS_DELIVERY", "ftp://x", "Unknown delivery URI scheme: ftp"),
    ("TIDINGS_DELIVERY", "http://relay.example", "Unknown delivery URI scheme: http"),
    ("TIDINGS_DELIVERY", "smtp://", "host"),
    ("TIDINGS_DELIVERY", "smtps://user:pass@", "host"),
    ("TIDINGS_DELIVERY", "maildir://", "path"),
    ("TIDINGS_MAX_MESSAGE_SIZE", "0", "greater than 0"),
    ("TIDINGS_MAX_MESSAGE_SIZE", "500KB", "integer"),
    ("TIDINGS_PUBLIC_URL", "ftp://x", "http"),
    ("TIDINGS_MAX_QUEUE_AGE", "soon", "duration"),
    ("TIDINGS_MAX_QUEUE_AGE", "0s", "positive"),
    ("TIDINGS_MAX_QUEUE_AGE", "-5m", "duration"),
    ("TIDINGS_HOSTNAME", "bad host", "host name"),
    ("TIDINGS_BOUNCE_DOMAIN", "-bounces.example", "host name"),
    ("TIDINGS_LOG_LEVEL", "chatty", "DEBUG"),
    ("TIDINGS_PROXY_PROTOCOL", "maybe", "boolean"),
]


@pytest.mark.parametrize(("name", "value", "says"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_bad_value_is_one_line_naming_the_variable(monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: ")
    assert says in message


def test_unknown_delivery_scheme_says_exactly_that(monkeypatch):
    monkeypatch.setenv("TIDINGS_DELIVERY", "ftp://x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == "TIDINGS_DELIVERY: Unknown delivery URI scheme: ftp"


@pytest.mark.parametrize("present", ["TIDINGS_TLS_CERT", "TIDINGS_TLS_KEY"])
def test_tls_cert_and_key_go_together(monkeypatch, tmp_path, present):
    pem = tmp_path / "x.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv(present, str(pem))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("TIDINGS_TLS_")
    assert "TIDINGS_TLS_CERT" in message and "TIDINGS_TLS_KEY" in message


@pytest.mark.parametrize("missing", ["TIDINGS_TLS_CERT", "TIDINGS_TLS_KEY"])
def test_missing_tls_file_names_its_variable(monkeypatch, tmp_path, missing):
    for name in ("TIDINGS_TLS_CERT", "TIDINGS_TLS_KEY"):
        path = tmp_path / f"{name}.pem"
        if name != missing:
            path.write_text("pem")
        monkeypatch.setenv(name, str(path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{missing}: ")


def test_public_url_without_a_host_is_refused(monkeypatch):
    monkeypatch.setenv("TIDINGS_PUBLIC_URL", "https://")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("TIDINGS_PUBLIC_URL: ")


# --- the TOML file --------------------------------------------------------------------------


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tidings.toml"
    path.write_text(text)
    return path


def test_toml_file_is_read_and_env_overrides_it(monkeypatch, tmp_path):
    config = write_config(tmp_path, 'TIDINGS_SMTP_PORT = 2525\n'
                                    'TIDINGS_HTTP_PORT = 9090\n'
                                    'tidings_max_queue_age = "2d"\n'
                                    'TIDINGS_DELIVERY = "maildir:///tmp/mail"\n')
    monkeypatch.setenv("TIDINGS_HTTP_PORT", "9191")

    settings = load_settings(config)

    assert settings.smtp_port == 2525
    assert settings.http_port == 9191
    assert settings.max_queue_age == 172800
    assert settings.delivery == "maildir:///tmp/mail"


@pytest.mark.parametrize("key", ["TIDINGS_NO_SUCH_THING", "smtp_port"])
def test_unknown_toml_key_is_an_error_naming_it(tmp_path, key):
    config = write_config(tmp_path, f"{key} = 1\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert "\n" not in message
    assert key.upper() in message.upper()
    assert "unknown" in message


def test_bad_value_in_toml_names_the_variable(tmp_path):
    config = write_config(tmp_path, 'TIDINGS_DELIVERY = "ftp://x"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert str(caught.value) == "TIDINGS_DELIVERY: Unknown delivery URI scheme: ftp"


@pytest.mark.parametrize("text", ["TIDINGS_SMTP_PORT = \n", "not toml at all ["])
def test_unreadable_toml_is_one_line(tmp_path, text):
    with pytest.raises(SettingsError) as caught:
        load_settings(write_config(tmp_path, text))
    assert "\n" not in str(caught.value)
    assert "--config" in str(caught.value)


def test_missing_config_file_is_one_line(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "absent.toml")
    assert "\n" not in str(caught.value)
    assert "absent.toml" in str(caught.value)


# --- through the real command line ----------------------------------------------------------


def tidings(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    return subprocess.run([sys.executable, "-m", "relay.cli", *args], cwd=ROOT,
                          env={**base, **env}, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize(("name", "value"), [
    ("TIDINGS_SMTP_PORT", "abc"),
    ("TIDINGS_MAX_QUEUE_AGE", "soon"),
    ("TIDINGS_PUBLIC_URL", "ftp://x"),
])
def test_serve_with_a_bad_setting_exits_with_one_line(tmp_path, name, value):
    done = tidings({name: value, "TIDINGS_DATA_DIR": str(tmp_path)}, "serve")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert name in lines[0]


def test_serve_with_unknown_delivery_scheme(tmp_path):
    done = tidings({"TIDINGS_DELIVERY": "ftp://x", "TIDINGS_DATA_DIR": str(tmp_path)}, "serve")
    assert done.returncode != 0
    assert done.stderr.splitlines() == ["tidings: TIDINGS_DELIVERY: Unknown delivery URI scheme: "
                                        "ftp"]


@pytest.mark.parametrize("uri", ["smtp://relay.example:notaport", "smtps://relay.example:70000",
                                 "smtp://:25", "smtp://user:pass@"])
@pytest.mark.parametrize("role", ["serve", "worker"])
def test_bad_smarthost_uri_exits_with_one_line(tmp_path, role, uri):
    done = tidings({"TIDINGS_DELIVERY": uri, "TIDINGS_DATA_DIR": str(tmp_path)}, role)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "tidings: TIDINGS_DELIVERY: a smarthost URI needs a host and an optional port from 1 "
        f"to 65535, as in {uri.partition(':')[0]}://user:pass@host:port"]


def test_serve_with_a_bad_config_key_exits_with_one_line(tmp_path):
    config = write_config(tmp_path, "TIDINGS_SMPT_PORT = 2525\n")
    done = tidings({"TIDINGS_DATA_DIR": str(tmp_path)}, "--config", str(config), "serve")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert "TIDINGS_SMPT_PORT" in done.stderr


def test_serve_on_a_port_in_use_names_the_setting(tmp_path, redis_url):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = tidings({"TIDINGS_BIND": "127.0.0.1", "TIDINGS_SMTP_PORT": str(port),
                        "TIDINGS_SMTPS_PORT": "0", "TIDINGS_REDIS_URL": redis_url,
                        "TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_HOSTNAME": "tidings.test"},
                       "serve")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    named = [line for line in done.stderr.splitlines() if "TIDINGS_SMTP_PORT" in line]
    assert named, done.stderr
    assert str(port) in named[0] and "in use" in named[0]


# --- the generated reference ----------------------------------------------------------------


def test_configuration_page_is_current():
    page = ROOT / "docs" / "configuration.md"
    assert page.read_text() == markdown_table(), \
        "run: python -m relay.settings > docs/configuration.md"


def test_configuration_page_lists_every_variable_of_the_spec():
    table = markdown_table()
    for name in ("REDIS_URL", "DATA_DIR", "HOSTNAME", "SMTP_PORT", "SMTPS_PORT", "HTTP_PORT",
                 "BOUNCE_PORT", "TLS_CERT", "TLS_KEY", "PUBLIC_URL", "SECRET", "DELIVERY",
                 "MAX_MESSAGE_SIZE", "BOUNCE_DOMAIN", "MAX_QUEUE_AGE", "ADMIN_TOKEN"):
        assert f"`TIDINGS_{name}`" in table


def test_serve_with_a_bad_bind_address_names_tidings_bind(tmp_path, redis_url):
    done = tidings({"TIDINGS_BIND": "not an ip", "TIDINGS_SMTP_PORT": "0",
                    "TIDINGS_SMTPS_PORT": "0", "TIDINGS_REDIS_URL": redis_url,
                    "TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_HOSTNAME": "tidings.test"},
                   "serve")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "TIDINGS_BIND" in done.stderr.splitlines()[-1]


@pytest.mark.parametrize("name, field, default", [
    ("TIDINGS_HTTP_PORT", "http_port", 8080),
    ("TIDINGS_ADMIN_TOKEN", "admin_token", None),
    ("TIDINGS_SECRET", "secret", None),
])
def test_an_empty_variable_means_unset(monkeypatch, name, field, default):
    """`TIDINGS_ADMIN_TOKEN=` in an env file must not become an empty bearer token."""
    monkeypatch.setenv(name, "")
    assert getattr(load_settings(), field) == default


@pytest.mark.parametrize("errno_value, expected", [
    (13, "TIDINGS_SMTP_PORT: cannot listen on port 587: permission denied (ports below 1024 "
         "need root or CAP_NET_BIND_SERVICE); set TIDINGS_SMTP_PORT to a port above 1023"),
    (98, "TIDINGS_SMTP_PORT: port 587 is already in use; stop the other program or change "
         "TIDINGS_SMTP_PORT"),
])
def test_a_port_that_cannot_be_bound_names_the_setting(errno_value, expected):
    from relay.roles import bind_error

    assert bind_error("TIDINGS_SMTP_PORT", 587, OSError(errno_value, "x")) == expected


@pytest.mark.parametrize("public_url, warned", [
    (None, True),  # the default is http://HOSTNAME:HTTP_PORT
    ("http://mail.example.com", True),
    ("https://mail.example.com", False),
])
def test_an_http_public_url_is_warned_about(public_url, warned):
    from relay.roles import startup_warnings

    settings = load_settings(public_url=public_url, hostname="mail.example.com")
    warnings = startup_warnings(settings)
    assert bool(warnings) is warned
    if warned:
        assert "TIDINGS_PUBLIC_URL" in warnings[0] and "https" in warnings[0]


@pytest.mark.parametrize("role", ["serve", "api"])
def test_http_port_in_use_names_the_setting(tmp_path, redis_url, role):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = tidings({"TIDINGS_BIND": "127.0.0.1", "TIDINGS_SMTP_PORT": "0",
                        "TIDINGS_SMTPS_PORT": "0", "TIDINGS_HTTP_PORT": str(port),
                        "TIDINGS_REDIS_URL": redis_url, "TIDINGS_DATA_DIR": str(tmp_path),
                        "TIDINGS_HOSTNAME": "tidings.test", "TIDINGS_DELIVERY": "maildir:///tmp/x",
                        "TIDINGS_WORKER_PROCESSES": "1", "TIDINGS_SMTP_PROCESSES": "1"}, role)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"tidings: TIDINGS_HTTP_PORT: port {port} is already in use; stop the other program or "
        "change TIDINGS_HTTP_PORT")
