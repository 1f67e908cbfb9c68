"""CRC, MBAP splitting and RTU request framing, without sockets."""

from __future__ import annotations

import struct

import pytest

from gateway.core.modbus_wire import MbapError, mbap_frame, split_mbap
from simulators.modbus.framing import (
    RtuRequestFramer,
    check_crc,
    crc16,
    rtu_frame,
    rtu_request_length,
)


@pytest.mark.parametrize(
    ("frame", "crc"),
    [
        ("01 03 00 00 00 0A", "C5 CD"),
        ("01 04 00 00 00 02", "71 CB"),  # SDM630 voltage L1
        ("11 03 00 6B 00 03", "76 87"),  # Modbus over Serial Line spec example
        ("01 06 00 01 00 03", "98 0B"),
    ],
)
def test_crc_known_vectors(frame: str, crc: str) -> None:
    data = bytes.fromhex(frame)
    assert crc16(data).to_bytes(2, "little") == bytes.fromhex(crc)
    assert rtu_frame(data[0], data[1:]) == data + bytes.fromhex(crc)


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == 0x4B37  # CRC-16/MODBUS catalogue check value


def test_check_crc() -> None:
    frame = rtu_frame(1, bytes.fromhex("030000000A"))
    assert check_crc(frame)
    assert not check_crc(frame[:-1] + bytes([frame[-1] ^ 1]))
    assert not check_crc(b"\x01\x03")


def test_request_lengths() -> None:
    assert rtu_request_length(b"\x01") is None
    assert rtu_request_length(b"\x01\x03") == 8
    assert rtu_request_length(b"\x01\x10\x00\x00\x00") is None
    assert rtu_request_length(b"\x01\x10\x00\x00\x00\x02\x04") == 13
    assert rtu_request_length(b"\x01\x0f\x00\x00\x00\x0a\x02") == 11
    assert rtu_request_length(b"\x01\x64") == 0


def test_framer_reassembles_and_splits() -> None:
    a = rtu_frame(1, bytes.fromhex("0300000002"))
    b = rtu_frame(2, struct.pack(">BHHBHH", 16, 0, 2, 4, 1, 2))
    framer = RtuRequestFramer(gap_s=0.02)
    assert framer.feed(a[:1], 0.0) == []
    assert framer.feed(a[1:7], 0.001) == []
    assert framer.feed(a[7:] + b + a[:3], 0.002) == [a[:-2], b[:-2]]
    assert framer.feed(a[3:], 0.003) == [a[:-2]]
    assert framer.bad_frames == 0


def test_framer_drops_bad_crc_and_recovers() -> None:
    good = rtu_frame(1, bytes.fromhex("0300000002"))
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    framer = RtuRequestFramer(gap_s=0.02)
    assert framer.feed(bad, 0.0) == []
    assert framer.bad_frames == 1
    assert framer.feed(good, 0.1) == [good[:-2]]


def test_framer_drops_a_half_frame_after_silence() -> None:
    good = rtu_frame(1, bytes.fromhex("0300000002"))
    framer = RtuRequestFramer(gap_s=0.02)
    assert framer.feed(good[:5], 0.0) == []
    assert framer.feed(good, 0.5) == [good[:-2]]  # the stale 5 bytes went with the silence
    assert framer.bad_frames == 1


def test_framer_unknown_function_takes_the_chunk_if_its_crc_matches() -> None:
    odd = rtu_frame(1, bytes([0x64, 1, 2, 3]))
    framer = RtuRequestFramer(gap_s=0.02)
    assert framer.feed(odd[:4], 0.0) == []
    assert framer.feed(odd[4:], 0.001) == [odd[:-2]]


def test_mbap_split() -> None:
    one = mbap_frame(1, 1, bytes.fromhex("0300000001"))
    two = mbap_frame(2, 5, bytes.fromhex("0400100002"))
    frames, used = split_mbap(one + two + two[:4])
    assert [(f.transaction_id, f.unit_id, f.pdu) for f in frames] == [
        (1, 1, bytes.fromhex("0300000001")),
        (2, 5, bytes.fromhex("0400100002")),
    ]
    assert used == len(one) + len(two)
    with pytest.raises(MbapError):
        split_mbap(struct.pack(">HHHB", 1, 0, 1, 1))
