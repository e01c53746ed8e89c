"""From the URLs people hold to the ones the client calls."""

from __future__ import annotations

import pytest

from client.urls import split_invite, websocket_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/api/v1/ws"),
        ("http://127.0.0.1:8080/", "ws://127.0.0.1:8080/api/v1/ws"),
        ("https://parley.example", "wss://parley.example/api/v1/ws"),
        ("HTTPS://parley.example/talks/", "wss://parley.example/talks/api/v1/ws"),
        ("ws://127.0.0.1:8080", "ws://127.0.0.1:8080/api/v1/ws"),
        ("wss://parley.example/api/v1/ws", "wss://parley.example/api/v1/ws"),
    ],
)
def test_websocket_url_of_a_server_base(url: str, expected: str) -> None:
    assert websocket_url(url) == expected


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://host", "http://", ""])
def test_websocket_url_refuses_what_is_not_a_server_url(url: str) -> None:
    with pytest.raises(ValueError):
        websocket_url(url)


def test_split_invite_gives_the_base_and_the_token() -> None:
    assert split_invite("http://127.0.0.1:8080/join#pi_abc") == ("http://127.0.0.1:8080", "pi_abc")
    assert split_invite("https://h.example/talks/join#pi_x") == ("https://h.example/talks", "pi_x")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/join", "pi_abc", "ws://h/join#pi_a"])
def test_split_invite_refuses_what_is_not_an_invite_link(url: str) -> None:
    with pytest.raises(ValueError):
        split_invite(url)
