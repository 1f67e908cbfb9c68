"""CJ/T 188-2004 frames for water, heat and gas meters (pure: no I/O).

    FE FE  68  T  A0 … A6  C  L  DI0 DI1 SER  data  CS  16

T is the meter type (10H cold water, 11H hot water, 20H/21H heat, 30H gas),
the address 14 BCD digits sent low byte first (AA: wildcard; the top two
bytes are often the maker's code), DI two bytes sent low byte first (1F 90
for 901F), SER a sequence number the reply repeats. No data
offset. Control codes: 01 read data, 03 read address; 81 and 83 answer them,
C1 is the error reply, carrying SER and the meter's two status bytes.
Read current data (DI 901F) answers, after DI and SER, with
the current cumulative volume (4 bytes BCD XXXXXX.XX + unit byte), the
volume at the settlement day (same), the meter's clock (7 bytes BCD) and the
status ST (2 bytes: bits 0-1 valve, bit 2 battery low).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.bcd import address_bytes
from gateway.core.meterframe import START, Layout, frame

ADDRESS_BYTES = 7
WAKE = 4
#: 68, T, address, C, L, CS, 16
OVERHEAD = 3 + ADDRESS_BYTES + 3
LAYOUT = Layout(header=11, second_start=None)
READ_DATA = 0x01
READ_ADDRESS = 0x03
REPLY = 0x80
ERROR = 0x40
CURRENT_DATA = 0x901F
READ_ADDRESS_DI = 0x810A
WILDCARD = "AA" * ADDRESS_BYTES
#: Meter types (CJ/T 188-2004 table 1).
METER_TYPES = {0x10: "cold water", 0x11: "hot water", 0x12: "drinking water",
               0x13: "reclaimed water", 0x20: "heat (heating)", 0x21: "heat (cooling)",
               0x30: "gas", 0x40: "electricity"}
#: Unit byte of volumes (CJ/T 188-2004 table 5): m³.
CUBIC_METRES = 0x2C
#: Data bytes after DI and SER in the reply to a read of 901F.
CURRENT_DATA_BYTES = 19


class ReplyError(Exception):
    """A frame that does not answer the request; ``kind`` says how."""

    kind = "bad_reply"


class ErrorReply(ReplyError):
    kind = "exception"

    def __init__(self, status: int):
        super().__init__(f"error reply, status {status:04X}")
        self.code = status


@dataclass(frozen=True, slots=True)
class Frame:
    meter_type: int
    address: str
    control: int
    data: bytes


def encode(meter_type: int, address: str, control: int, data: bytes, *, wake: int = WAKE) -> bytes:
    head = bytes((START, meter_type)) + address_bytes(address, ADDRESS_BYTES) + bytes((control,))
    return frame(head, data, wake=wake)


def decode(raw: bytes) -> Frame:
    address = bytes(reversed(raw[2:9])).hex().upper()
    if not all(c in "0123456789A" for c in address):
        raise ReplyError(f"address {address} is not BCD")
    return Frame(raw[1], address, raw[9], raw[11:-2])


def read_data(meter_type: int, address: str, di: int = CURRENT_DATA, ser: int = 0) -> bytes:
    return encode(meter_type, address, READ_DATA, di.to_bytes(2, "little") + bytes((ser,)))


def read_address(meter_type: int, ser: int = 0, address: str = WILDCARD) -> bytes:
    """Every meter of ``meter_type`` whose address matches (AA: any) answers with it."""
    return encode(meter_type, address, READ_ADDRESS,
                  READ_ADDRESS_DI.to_bytes(2, "little") + bytes((ser,)))


def data_reply(meter_type: int, address: str, di: int, ser: int, value: bytes) -> bytes:
    return encode(meter_type, address, READ_DATA | REPLY,
                  di.to_bytes(2, "little") + bytes((ser,)) + value)


def error_reply(meter_type: int, address: str, ser: int, status: int) -> bytes:
    return encode(meter_type, address, READ_DATA | REPLY | ERROR,
                  bytes((ser,)) + status.to_bytes(2, "little"))


def address_reply(meter_type: int, address: str, ser: int) -> bytes:
    return encode(meter_type, address, READ_ADDRESS | REPLY,
                  READ_ADDRESS_DI.to_bytes(2, "little") + bytes((ser,)))


def data_of(reply: Frame, meter_type: int, address: str, di: int, ser: int) -> bytes:
    """The data after DI and SER of a reply to ``read_data``; raises ReplyError otherwise."""
    if reply.address != address:
        raise ReplyError(f"reply from meter {reply.address}, asked {address}")
    if reply.meter_type != meter_type:
        raise ReplyError(f"reply from a meter of type {reply.meter_type:02X}, "
                         f"asked {meter_type:02X}")
    if reply.control == READ_DATA | REPLY | ERROR and len(reply.data) == 3:
        raise ErrorReply(int.from_bytes(reply.data[1:3], "little"))
    if reply.control != READ_DATA | REPLY:
        raise ReplyError(f"control {reply.control:02X} does not answer a read ({READ_DATA:02X})")
    if reply.data[:2] != di.to_bytes(2, "little"):
        got = int.from_bytes(reply.data[:2], "little")
        raise ReplyError(f"reply for DI {got:04X}, asked {di:04X}")
    if len(reply.data) < 3 or reply.data[2] != ser:
        raise ReplyError("reply repeats another request's sequence number")
    return reply.data[3:]


def found_address(reply: Frame, meter_type: int) -> str:
    """The address in a reply to ``read_address``; raises ReplyError otherwise."""
    if reply.control != READ_ADDRESS | REPLY or reply.data[:2] != \
            READ_ADDRESS_DI.to_bytes(2, "little"):
        raise ReplyError(f"control {reply.control:02X} does not answer a read-address request")
    if reply.meter_type != meter_type or "A" in reply.address:
        raise ReplyError(f"type {reply.meter_type:02X} address {reply.address} is not a meter's")
    return reply.address


def read_request_bytes() -> int:
    """Bytes on the wire of a read-data request (wake-up included)."""
    return WAKE + OVERHEAD + 3


def read_reply_bytes(value_bytes: int) -> int:
    """Bytes on the wire of its reply carrying ``value_bytes`` after DI and SER."""
    return WAKE + OVERHEAD + 3 + value_bytes


def address_reply_bytes() -> int:
    """Bytes on the wire of a reply to a read-address request (DI and SER)."""
    return WAKE + OVERHEAD + 3


def digits(unit: int) -> str:
    """The 14-digit address of the meter a link knows by its number."""
    return f"{unit:014d}"
