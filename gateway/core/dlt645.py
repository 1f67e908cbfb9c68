"""DL/T 645-2007 frames: requests, replies and their checks (pure: no I/O).

    FE FE FE FE  68  A0 … A5  68  C  L  DI0 … DI3  data  CS  16

The address is 12 BCD digits sent low byte first (AA bytes are wildcards);
every byte of the data field is sent plus 0x33; a data identifier (DI) is
four bytes, DI0 first. Control codes (DL/T 645-2007 §7.1.1): 11 read data,
13 read the address; a normal reply sets bit 7 (91, 93), and bit 5 when more
frames follow (B1); an error reply also sets bit 6 (D1) and carries one error
byte (§7.1.6: bit 1 "no data requested", bit 2 password/authority, …).
The 1997 edition reads with control 01 and two-byte DIs; its replies (81)
are refused with a message saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.bcd import address_bytes, address_digits, unit_address
from gateway.core.codec import CodecError
from gateway.core.meterframe import START, Layout, address_field, frame
from gateway.core.meterframe import ReplyError as ReplyError  # shared with cjt188

ADDRESS_BYTES = 6
#: FE bytes sent before a frame; replies are assumed to carry as many (wire budgets)
WAKE = 4
#: 68, address, 68, C, L, CS, 16
OVERHEAD = 2 + ADDRESS_BYTES + 4
LAYOUT = Layout(header=10, second_start=7)
READ_DATA = 0x11
READ_ADDRESS = 0x13
REPLY = 0x80
ERROR = 0x40
MORE_FOLLOWS = 0x20
#: The 1997 edition's read-data control code.
READ_DATA_1997 = 0x01
#: The address a read-address request goes to: every meter on the line answers.
WILDCARD = "AA" * ADDRESS_BYTES
OFFSET = 0x33
#: Error byte bits (DL/T 645-2007 §7.1.6, table "异常应答帧 错误信息字").
ERROR_BITS = {0: "other error", 1: "no data requested (unknown DI)", 2: "password or "
              "authority error", 3: "baud rate cannot change", 4: "annual time zones exceed",
              5: "daily time periods exceed", 6: "tariffs exceed"}
NO_DATA = 0x02


class ErrorReply(ReplyError):
    """The meter answered with an error reply (D1)."""

    kind = "exception"

    def __init__(self, code: int):
        names = [name for bit, name in ERROR_BITS.items() if code >> bit & 1]
        super().__init__(f"error reply {code:02X} ({', '.join(names) or 'no reason given'})")
        self.code = code


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed frame: the address's digits, the control code, the data without its offset."""

    address: str
    control: int
    data: bytes


def shift(data: bytes, by: int) -> bytes:
    return bytes((b + by) & 0xFF for b in data)


def di_bytes(di: int) -> bytes:
    return di.to_bytes(4, "little")


def encode(address: str, control: int, data: bytes = b"", *, wake: int = WAKE) -> bytes:
    """A whole frame, wake-up bytes included; ``data`` without the 0x33 offset."""
    head = bytes((START,)) + address_bytes(address, ADDRESS_BYTES) + bytes((START, control))
    return frame(head, shift(data, OFFSET), wake=wake)


def decode(raw: bytes) -> Frame:
    """A frame found by ``meterframe.scan(…, LAYOUT)`` → its fields.

    Raises ReplyError when the address is not BCD (a wildcard is kept as A digits).
    """
    return Frame(address_field(raw[1:7]), raw[8], shift(raw[10:-2], -OFFSET))


def read_data(address: str, di: int, *, wake: int = WAKE) -> bytes:
    return encode(address, READ_DATA, di_bytes(di), wake=wake)


def read_address(address: str = WILDCARD, *, wake: int = WAKE) -> bytes:
    """Every meter whose address matches (AA bytes: any) answers with its address."""
    return encode(address, READ_ADDRESS, wake=wake)


def data_reply(address: str, di: int, value: bytes, *, wake: int = WAKE) -> bytes:
    return encode(address, READ_DATA | REPLY, di_bytes(di) + value, wake=wake)


def error_reply(address: str, code: int, *, control: int = READ_DATA, wake: int = WAKE) -> bytes:
    return encode(address, control | REPLY | ERROR, bytes((code,)), wake=wake)


def address_reply(address: str, *, wake: int = WAKE) -> bytes:
    return encode(address, READ_ADDRESS | REPLY, address_bytes(address, ADDRESS_BYTES),
                  wake=wake)


def _check_edition(reply: Frame) -> None:
    if reply.control & 0x1F == READ_DATA_1997:
        raise ReplyError(f"control {reply.control:02X} is a DL/T 645-1997 reply: only the 2007 "
                         "edition is supported; set the meter to DL/T 645-2007 or read it "
                         "through a converter")


def data_of(reply: Frame, address: str, di: int) -> bytes:
    """The value bytes of a reply to ``read_data(address, di)``.

    Raises ErrorReply for an error reply and ReplyError for a frame that is not
    this request's reply: another address, control code or DI, a 1997 reply.
    """
    if reply.address != address:
        raise ReplyError(f"reply from meter {reply.address}, asked {address}")
    _check_edition(reply)
    if reply.control == READ_DATA | REPLY | ERROR:
        if len(reply.data) != 1:
            raise ReplyError(f"error reply with {len(reply.data)} data bytes, not 1")
        raise ErrorReply(reply.data[0])
    if reply.control & ~MORE_FOLLOWS != READ_DATA | REPLY:
        raise ReplyError(f"control {reply.control:02X} does not answer a read ({READ_DATA:02X})")
    if reply.data[:4] != di_bytes(di):
        got = int.from_bytes(reply.data[:4], "little")
        raise ReplyError(f"reply for DI {got:08X}, asked {di:08X}")
    return reply.data[4:]


def address_of(reply: Frame) -> str:
    """The meter address in a reply to ``read_address()``; raises ReplyError otherwise."""
    _check_edition(reply)
    if reply.control != READ_ADDRESS | REPLY or len(reply.data) != ADDRESS_BYTES:
        raise ReplyError(f"control {reply.control:02X} with {len(reply.data)} data bytes does "
                         "not answer a read-address request")
    try:
        found = address_digits(reply.data)
    except CodecError as exc:
        raise ReplyError(str(exc)) from None
    if found != reply.address:
        raise ReplyError(f"address field {reply.address} differs from the data's {found}")
    return found


def block_byte(di: int) -> int | None:
    """Which byte of a block DI is FF (0 = DI0 … 3 = DI3), None unless exactly one is."""
    found = [i for i in range(4) if di >> (8 * i) & 0xFF == 0xFF]
    return found[0] if len(found) == 1 else None


def block_elements(di: int, first: int, count: int) -> list[int]:
    """The DIs a block read returns, in order: the FF byte counting from ``first``
    (0201FF00 from 1, three: 02010100, 02010200, 02010300 — phase voltages A, B, C)."""
    byte = block_byte(di)
    if byte is None:
        raise ValueError(f"{di:08X} is not a block DI (exactly one FF byte)")
    shift = 8 * byte
    return [di & ~(0xFF << shift) | (first + i) << shift for i in range(count)]


def read_request_bytes() -> int:
    """Bytes on the wire of a read-data request (wake-up included)."""
    return WAKE + OVERHEAD + 4


def read_reply_bytes(value_bytes: int) -> int:
    """Bytes on the wire of its reply carrying ``value_bytes`` of data after the DI."""
    return WAKE + OVERHEAD + 4 + value_bytes


def address_reply_bytes() -> int:
    """Bytes on the wire of a reply to a read-address request."""
    return WAKE + OVERHEAD + ADDRESS_BYTES


def digits(unit: int) -> str:
    """The 12-digit address of the meter a link knows by its number."""
    return unit_address(unit, ADDRESS_BYTES)
