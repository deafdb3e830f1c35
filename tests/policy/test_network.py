from ipaddress import ip_network

import pytest

from policy.network import ip_allowed, parse_network


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("192.0.2.7", "192.0.2.7/32"),
        ("10.0.0.5/24", "10.0.0.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:DB8::1", "2001:db8::1/128"),
        ("2001:db8::1/64", "2001:db8::/64"),
        ("::/0", "::/0"),
    ],
)
def test_parse_network_accepts_cidr_and_bare_addresses(text, expected):
    assert parse_network(text) == ip_network(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "example.com",
        "192.0.2.0/33",
        "2001:db8::/129",
        "192.0.2.0/",
        "192.0.2.0/-1",
        "192.0.2.0/+8",
        "192.0.2.0/24/8",
        "192.0.2.0/255.255.255.0",
        "192.0.2.256",
        "010.0.0.1",
        " 192.0.2.1",
        "192.0.2.1\n",
        "fe80::1%eth0",
        "fe80::%eth0/64",
        "[2001:db8::1]",
    ],
)
def test_parse_network_refuses_anything_else_naming_the_value(text):
    with pytest.raises(ValueError) as caught:
        parse_network(text)
    message = str(caught.value)
    assert repr(text) in message
    assert "\n" not in message


V4 = (ip_network("192.0.2.0/24"),)
V6 = (ip_network("2001:db8::/32"),)
LINK_LOCAL = (ip_network("fe80::/64"),)
MAPPED_RANGE = (ip_network("::ffff:0:0/96"),)


@pytest.mark.parametrize(
    ("ip", "networks", "allowed"),
    [
        ("203.0.113.9", (), True),
        ("2001:db8::1", (), True),
        ("192.0.2.7", V4, True),
        ("192.0.2.255", V4, True),
        ("192.0.3.0", V4, False),
        ("2001:db8:ffff::1", V6, True),
        ("2001:db9::1", V6, False),
        ("192.0.2.7", V6, False),
        ("2001:db8::1", V4, False),
        ("192.0.2.7", V4 + V6, True),
        ("2001:db8::1", V4 + V6, True),
        ("::ffff:192.0.2.7", V4, True),
        ("::ffff:192.0.3.7", V4, False),
        ("::ffff:192.0.2.7", MAPPED_RANGE, True),
        ("fe80::1%eth0", LINK_LOCAL, True),
        ("fe80:0:0:1::1%eth0", LINK_LOCAL, False),
        ("192.0.2.7%eth0", V4, False),
        ("not-an-ip", V4, False),
        ("", V4, False),
        ("192.0.2.7 ", V4, False),
    ],
)
def test_ip_allowed(ip, networks, allowed):
    assert ip_allowed(ip, networks) is allowed


def test_ip_allowed_accepts_parsed_networks():
    networks = (parse_network("10.0.0.5/24"), parse_network("2001:db8::1"))
    assert ip_allowed("10.0.0.200", networks)
    assert ip_allowed("2001:db8::1", networks)
    assert not ip_allowed("2001:db8::2", networks)
