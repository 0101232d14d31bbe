"""The host policy every outbound request to a client's URL obeys (blob_url, webhooks)."""

from __future__ import annotations

import pytest

from services.egress.hosts import (
    Resolve,
    UrlRefusedError,
    UrlUnresolvedError,
    allowed_hosts_list,
    host_allowed,
    is_public_address,
    pin,
)


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("docs.example.com", ("docs.example.com",), (True, True)),
        ("DOCS.example.com.", ("docs.example.com",), (True, True)),
        ("a.cdn.example", ("*.cdn.example",), (True, False)),
        ("cdn.example", ("*.cdn.example",), (False, False)),
        ("evilcdn.example", ("*.cdn.example",), (False, False)),
        ("anything.example", ("*",), (True, False)),
        ("docs.example.com", (), (False, False)),
    ],
)
def test_host_allowlist(host: str, allowed: tuple[str, ...], expected: tuple[bool, bool]) -> None:
    assert host_allowed(host, allowed) == expected


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.5.5", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("224.0.0.1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def resolving_to(*addresses: str) -> Resolve:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def unresolvable(host: str, port: int) -> list[str]:
    raise OSError("no such host")


@pytest.mark.parametrize(
    ("url", "allowed", "words"),
    [
        ("ftp://hooks.example/x", ("*",), "only http"),
        ("http://user:pw@hooks.example/x", ("*",), "credentials"),
        ("http://other.example/x", ("hooks.example",), "not allowed"),
        ("not a url at all", ("*",), "only http"),
    ],
)
async def test_refused_before_any_lookup(url: str, allowed: tuple[str, ...], words: str) -> None:
    with pytest.raises(UrlRefusedError, match=words):
        await pin(url, allowed, unresolvable)


async def test_a_wildcard_does_not_reach_private_addresses() -> None:
    with pytest.raises(UrlRefusedError, match="non-public"):
        await pin("http://hooks.example/x", ("*",), resolving_to("93.184.216.34", "10.0.0.5"))


async def test_a_host_listed_by_name_may_be_loopback() -> None:
    target = await pin("http://localhost:8123/hook", ("localhost",), resolving_to("127.0.0.1"))
    assert str(target.url) == "http://127.0.0.1:8123/hook"
    assert target.host_header == "localhost:8123" and target.extensions == {}


async def test_https_keeps_the_name_for_tls() -> None:
    target = await pin("https://hooks.example/x", ("*",), resolving_to("93.184.216.34"))
    assert target.url.host == "93.184.216.34" and target.host_header == "hooks.example"
    assert target.extensions == {"sni_hostname": "hooks.example"}


async def test_an_unresolvable_host_may_resolve_later() -> None:
    with pytest.raises(UrlUnresolvedError):
        await pin("http://hooks.example/x", ("*",), unresolvable)


def test_the_setting_is_a_comma_separated_list() -> None:
    assert allowed_hosts_list(" A.example, *.b.example ,") == ("a.example", "*.b.example")
