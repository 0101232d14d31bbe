"""Which Origin may open /ws."""

from __future__ import annotations

from services.gateway.origins import origin_allowed, origin_of, own_origins

ALLOWED = ("http://app.example.com", "http://localhost:5173")


def test_no_origin_header_is_a_non_browser_client() -> None:
    assert origin_allowed(None, ALLOWED)


def test_allowlisted_origins_pass_and_foreign_ones_do_not() -> None:
    assert origin_allowed("http://app.example.com", ALLOWED)
    assert origin_allowed("HTTP://LOCALHOST:5173/", ALLOWED)
    assert not origin_allowed("http://evil.example.com", ALLOWED)
    assert not origin_allowed("http://localhost:5174", ALLOWED)
    assert not origin_allowed("null", ALLOWED)


def test_star_allows_any_origin() -> None:
    assert origin_allowed("http://anything.test", ("*",))


def test_the_public_url_is_the_only_own_origin_when_set() -> None:
    own = own_origins("ws", "gateway.test:8001", "https://invoices.example.com/")

    assert own == {"https://invoices.example.com"}
    assert origin_allowed("https://invoices.example.com", ALLOWED, own)
    # Host is the client's to choose: a rebinding page names itself in Host and Origin alike.
    assert not origin_allowed("http://gateway.test:8001", ALLOWED, own)
    assert own_origins("ws", "127.0.0.1:8000", "https://invoices.example.com") == own


def test_without_a_public_url_only_a_loopback_host_is_an_own_origin() -> None:
    assert own_origins("ws", "localhost:8000", None) == {"http://localhost:8000"}
    assert own_origins("wss", "127.0.0.1", None) == {"https://127.0.0.1"}
    assert own_origins("ws", "[::1]:8000", None) == {"http://[::1]:8000"}
    for host in ("rebind.evil.test:8000", "10.0.0.5:8000", "localhost.evil.test", "[::ffff:7f00:1"):
        assert own_origins("ws", host, None) == set(), host
    assert not origin_allowed(
        "http://rebind.evil.test:8000", ALLOWED, own_origins("ws", "rebind.evil.test:8000", None)
    )


def test_origin_of_needs_a_scheme_and_a_host() -> None:
    assert origin_of("https://a.test/path?q") == "https://a.test"
    assert origin_of("not a url") is None
