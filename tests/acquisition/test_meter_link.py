"""The meter link's reply checks alone, on a scripted pipe (no sockets, no simulator):
what it passes over, what it accepts, what it reports."""

from __future__ import annotations

import pytest

from gateway.acquisition.link import BadReply, DeviceException, DeviceTimeout, LinkDown
from gateway.acquisition.meter_link import MeterLink
from gateway.core import cjt188, dlt645
from gateway.core.site import RtuOverTcpLink


class ScriptedPipe:
    """Answers each request with the bytes a test gives, all at once."""

    def __init__(self, *replies: bytes, opens: bool = True):
        self.replies = list(replies)
        self.sent: list[bytes] = []
        self.opens = opens
        self.is_open = False

    async def open(self) -> None:
        if not self.opens:
            raise OSError("no route to the serial server")
        self.is_open = True

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    async def read(self, until: float) -> bytes:
        return self.replies.pop(0) if self.replies else b""

    def drop_input(self) -> None:
        pass

    def close(self) -> None:
        self.is_open = False


CONFIG = RtuOverTcpLink(transport="rtu-over-tcp", protocol="dlt645", host="127.0.0.1",
                        port=1, baudrate=38400, timeout_s=0.01)
METER = "000012345678"
VOLTAGE = 0x02010100


def link(*replies: bytes, opens: bool = True) -> MeterLink:
    return MeterLink("m", CONFIG, ScriptedPipe(*replies, opens=opens))


async def test_late_and_foreign_frames_are_passed_over_for_the_reply() -> None:
    late = dlt645.data_reply(METER, 0x02010200, bytes.fromhex("01 23"))   # another DI
    other = dlt645.data_reply("000000000001", VOLTAGE, bytes.fromhex("99 99"))  # other meter
    mine = dlt645.data_reply(METER, VOLTAGE, bytes.fromhex("14 23"))
    m = link(b"\x00\x68junk" + late + other, mine)
    assert await m.read(12345678, "dlt645", VOLTAGE, 2) == [0x14, 0x23]
    [sent] = m._pipe.sent  # type: ignore[attr-defined]
    assert sent == dlt645.read_data(METER, VOLTAGE)


async def test_only_frames_that_do_not_answer_are_a_bad_reply_with_the_reasons() -> None:
    other = dlt645.data_reply("000000000001", VOLTAGE, bytes.fromhex("99 99"))
    with pytest.raises(BadReply, match="reply from meter 000000000001, asked 000012345678"):
        await link(other).read(12345678, "dlt645", VOLTAGE, 2)
    old = dlt645.encode(METER, 0x81, bytes.fromhex("10 90 00 00"))
    with pytest.raises(BadReply, match="DL/T 645-1997 reply"):
        await link(old).read(12345678, "dlt645", VOLTAGE, 2)
    corrupt = bytearray(dlt645.data_reply(METER, VOLTAGE, bytes.fromhex("14 23")))
    corrupt[-2] ^= 0x55
    with pytest.raises(BadReply, match="checksum"):
        await link(bytes(corrupt)).read(12345678, "dlt645", VOLTAGE, 2)


async def test_error_replies_and_silence() -> None:
    with pytest.raises(DeviceException, match="exception 02: error reply 02") as no_data:
        await link(dlt645.error_reply(METER, dlt645.NO_DATA)).read(12345678, "dlt645",
                                                                    VOLTAGE, 2)
    assert no_data.value.code == 0x02  # the planner disables the point
    with pytest.raises(DeviceException) as other:
        await link(dlt645.error_reply(METER, 0x01)).read(12345678, "dlt645", VOLTAGE, 2)
    assert other.value.code == 0x04  # counts toward offline
    with pytest.raises(DeviceTimeout, match="no reply from meter 12345678"):
        await link().read(12345678, "dlt645", VOLTAGE, 2)
    with pytest.raises(LinkDown):
        await link(opens=False).read(12345678, "dlt645", VOLTAGE, 2)


async def test_cjt188_reads_carry_a_fresh_sequence_number() -> None:
    value = bytes(cjt188.CURRENT_DATA_BYTES)
    first = cjt188.data_reply(0x10, "00000000001234", cjt188.CURRENT_DATA, 1, value)
    m = link(first, first)  # the second answer repeats the first's SER: a stale reply
    point = 0x10 << 16 | cjt188.CURRENT_DATA
    assert await m.read(1234, "cjt188", point, 4) == [0, 0, 0, 0]
    with pytest.raises(BadReply, match="sequence number"):
        await m.read(1234, "cjt188", point, 4)
