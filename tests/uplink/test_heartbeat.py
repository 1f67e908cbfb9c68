"""What proves the command subscription alive, and when it counts as silent
(gateway/uplink/heartbeat.py); the publisher acting on it over a real broker is
tests/uplink/test_publish_failures.py."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.uplink.heartbeat import heartbeat_payload, is_ours, is_silent

TOKEN = "0123456789abcdef0123456789abcdef"


def test_our_heartbeat_is_ours_and_carries_its_number() -> None:
    payload = heartbeat_payload(7, TOKEN)
    assert json.loads(payload) == {"heartbeat": 7, "token": TOKEN}
    assert is_ours(payload, TOKEN)


@pytest.mark.parametrize("payload", [
    heartbeat_payload(1, "f" * 32),                      # someone else's token
    heartbeat_payload(1, TOKEN[:-1]),                    # ours, one character short
    b'{"heartbeat": 1}',                                 # no token
    b'{"token": 12345}',                                 # a token that is not a string
    b'{"token": null}',
    b'["token", "' + TOKEN.encode() + b'"]',             # not an object
    b"not json",
    b"",
    b'{"token": "\\u00e9t\\u00e9"}',                    # non-ASCII (compare_digest's TypeError)
    b'{"token": "\\ud800"}',                             # a lone surrogate
    b"[" * 100_000,                                      # nesting deeper than the parser goes
])
def test_anything_else_on_the_heartbeat_topic_is_not_ours(payload: bytes) -> None:
    assert is_ours(payload, TOKEN) is False


@given(st.binary(max_size=200))
def test_no_bytes_raise(payload: bytes) -> None:
    assert is_ours(payload, TOKEN) is False


def test_silent_only_beyond_two_and_a_half_periods() -> None:
    assert not is_silent(0.0, 30.0)
    assert not is_silent(30.0, 30.0)      # one heartbeat late is not yet silence
    assert not is_silent(75.0, 30.0)      # exactly 2.5 periods: not yet
    assert is_silent(75.001, 30.0)
    assert is_silent(76.0, 30.0)
    assert not is_silent(2.5, 1.0) and is_silent(2.6, 1.0)
