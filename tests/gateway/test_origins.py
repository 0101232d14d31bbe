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


def test_the_gateways_own_page_may_connect() -> None:
    own = own_origins("ws", "gateway.test:8001", "https://invoices.example.com/")

    assert own == {"http://gateway.test:8001", "https://invoices.example.com"}
    assert origin_allowed("http://gateway.test:8001", ALLOWED, own)
    assert origin_allowed("https://invoices.example.com", ALLOWED, own)
    assert own_origins("wss", "gateway.test", None) == {"https://gateway.test"}


def test_origin_of_needs_a_scheme_and_a_host() -> None:
    assert origin_of("https://a.test/path?q") == "https://a.test"
    assert origin_of("not a url") is None
