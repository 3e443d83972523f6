"""Every URL from the service or the config is parsed and checked in one place."""

from __future__ import annotations

import pytest

from booth.transport.urlpolicy import (
    WS_SCHEMES,
    UrlRejected,
    check_url_allowed,
    parse_service_url,
)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ws://127.0.0.1:99999/ws", "port"),
        ("ws://127.0.0.1:abc/ws", "port"),
        ("ws://127.0.0.1:-1/ws", "port"),
        ("ws://127.0.0.1:0/ws", "port"),
        ("ws://[::1/ws", "does not parse"),
        ("ws://127.0.0.1/ws\r\nX: 1", "control"),
        ("ws://u:p@127.0.0.1/ws", "credentials"),
        ("ws:///ws", "with a host"),
        ("https://example.com/ws", "wss://"),
        ("ws://10.0.0.1/ws", "only allowed on loopback"),
        ("wss://x/" + "a" * 3000, "URL_CHARS"),
    ],
)
def test_malformed_or_unsafe_urls_are_a_typed_error(url: str, why: str) -> None:
    with pytest.raises(UrlRejected, match=why) as caught:
        parse_service_url(url, WS_SCHEMES)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400
    assert check_url_allowed(url, WS_SCHEMES) is not None


def test_good_urls_pass_with_their_port() -> None:
    assert parse_service_url("wss://voice.example.com/ws").port == 443
    assert parse_service_url("ws://[::1]:8765/ws").loopback
    assert parse_service_url("http://localhost:8080").port == 8080
    assert check_url_allowed("https://api.example.com") is None
