"""The shapes the link tells replies apart by (pure: no sockets)."""

from __future__ import annotations

from pymodbus.framer.rtu import FramerRTU

from gateway.acquisition.link import rtu_replies, signature


def frame(*body: int) -> bytes:
    data = bytes(body)
    return data + FramerRTU.compute_CRC(data).to_bytes(2, "big")


def test_signatures_follow_the_request() -> None:
    assert signature(3, 2) == (3, 4) and signature(4, 2) == (4, 4)
    assert signature(1, 1) == signature(1, 8) == (1, 1)  # bits come in whole bytes
    assert signature(2, 9) == (2, 2)
    assert signature(3, 2) != signature(3, 1)


def test_reply_frames_are_parsed_until_the_first_bad_one() -> None:
    read = frame(7, 3, 4, 0, 1, 0, 2)
    refused = frame(7, 0x83, 2)
    echo = frame(7, 6, 0, 1, 0, 0xF5)
    assert rtu_replies(read + refused + echo) == [(7, (3, 4)), (7, (0x83, 0)), (7, (6, 0))]
    assert rtu_replies(read[:-1]) == []  # incomplete: not yet a reply
    corrupt = read[:-1] + bytes((read[-1] ^ 0xFF,))
    assert rtu_replies(corrupt + refused) == []  # a bad CRC stops the parse
    assert rtu_replies(read + b"\x00\x00") == [(7, (3, 4))]
