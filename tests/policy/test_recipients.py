import pytest

from policy.recipients import is_valid_address, is_valid_domain

LABEL_63 = "a" * 63
#: Exactly 253 octets, the longest domain name.
DOMAIN_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"])


@pytest.mark.parametrize(
    "address",
    [
        "user@example.com",
        "USER@EXAMPLE.COM",
        "first.last@example.com",
        "user+tag@mail.example.co.uk",
        "x@a.io",
        "1234@example.com",
        "user@123.example.com",
        "user@example.xn--p1ai",
        "user@xn--bcher-kva.de",
        "user@my-host.example",
        "!#$%&'*+-/=?^_`{|}~@example.com",
        '"john..doe"@example.com',
        '"john@doe"@example.com',
        '"quote\\"inside"@example.com',
        '"back\\\\slash"@example.com',
        '".leading"@example.com',
        f"user@{LABEL_63}.com",
        "l" * 64 + "@example.com",
    ],
)
@pytest.mark.parametrize("smtputf8", [False, True])
def test_valid_ascii_addresses(address, smtputf8):
    assert is_valid_address(address, smtputf8=smtputf8)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "user",
        "@example.com",
        "user@",
        "user@@example.com",
        "a@b@example.com",
        "user@example",
        "user@localhost",
        "user@example.com.",
        "user@.example.com",
        "user@example..com",
        "user@-example.com",
        "user@example-.com",
        "user@exa_mple.com",
        "user@example.123",
        "user@192.0.2.1",
        "user@[192.0.2.1]",
        "user@[IPv6:2001:db8::1]",
        "user@xn--zz.com",
        f"user@{'a' * 64}.com",
        f"u@{DOMAIN_253}",
        "l" * 65 + "@example.com",
        ".user@example.com",
        "user.@example.com",
        "us..er@example.com",
        "us(er@example.com",
        "us,er@example.com",
        "us[er]@example.com",
        "us\\er@example.com",
        '""@example.com',
        '"unclosed@example.com',
        '"a"b@example.com',
        '"a"."b"@example.com',
        '"a\\"@example.com',
        "<user@example.com>",
        "user name@example.com",
        '"user name"@example.com',
        " user@example.com",
        "user@example.com ",
        "user\t@example.com",
        "user@example.com\r\n",
        "user@example.com\nRCPT TO:<victim@example.org>",
        "user\r@example.com",
        "user\x00@example.com",
        "user@exam\x00ple.com",
        "user\x7f@example.com",
        "user\x1b@example.com",
    ],
)
@pytest.mark.parametrize("smtputf8", [False, True])
def test_invalid_addresses(address, smtputf8):
    assert not is_valid_address(address, smtputf8=smtputf8)


@pytest.mark.parametrize(
    ("address", "with_smtputf8"),
    [
        ("user@bücher.de", True),
        ("ümlaut@example.com", True),
        ("用户@例子.广告", True),
        ("δοκιμή@παράδειγμα.δοκιμή", True),
        ('"ü ü"@example.com', False),
        ('"üü"@example.com', True),
        ("user@b\u00fccher.de.", False),
        ("user@bü..cher.de", False),
        ("us\u0085er@example.com", False),
        ("us\u2028er@example.com", False),
        ("us\u00a0er@example.com", False),
        ("user@exam\u3000ple.com", False),
        ("user@\ud800.com", False),
        ("ü" * 33 + "@example.com", False),
    ],
)
def test_non_ascii_addresses_need_smtputf8(address, with_smtputf8):
    assert not is_valid_address(address, smtputf8=False)
    assert is_valid_address(address, smtputf8=True) is with_smtputf8


def test_local_part_limit_counts_utf8_octets():
    assert is_valid_address("ü" * 32 + "@example.com", smtputf8=True)
    assert not is_valid_address("ü" * 32 + "x@example.com", smtputf8=True)


def test_whole_address_limit_is_254_octets():
    local = "l" * 64
    domain = ".".join(["a" * 63, "b" * 63, "c" * 57, "com"])
    assert len(f"{local}@{domain}") == 254
    assert is_valid_address(f"{local}@{domain}", smtputf8=False)
    assert not is_valid_address(f"{local}@a{domain}", smtputf8=False)


def test_domain_limit_is_253_octets():
    assert len(DOMAIN_253) == 253
    assert is_valid_domain(DOMAIN_253, smtputf8=False)
    assert not is_valid_domain("a" + DOMAIN_253, smtputf8=False)
