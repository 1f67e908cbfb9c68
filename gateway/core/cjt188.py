"""CJ/T 188-2004 frames for water, heat and gas meters (pure: no I/O).

    FE FE  68  T  A0 … A6  C  L  DI0 DI1 SER  data  CS  16

T is the meter type (10H cold water, 11H hot water, 20H/21H heat, 30H gas),
the address 14 BCD digits sent low byte first (AA: wildcard; the top two
bytes are often the maker's code), DI two bytes sent low byte first (1F 90
for 901F), SER a sequence number the reply repeats. No data
offset. Control codes: 01 read data, 03 read address; 81 and 83 answer them,
C1 is the error reply, carrying SER and the meter's two status bytes.

Read current data (DI 901F) answers, after DI and SER (``CurrentData``):

* water and gas meters (1xH, 30H): the cumulative volume (4 bytes BCD
  XXXXXX.XX and a unit byte), the volume at the settlement day (same), the
  meter's clock (7 bytes BCD, ss mm hh DD MM YY YY) and the status ST;
* heat meters (20H heating, 21H cooling): the heat at the settlement day and
  the current heat (each XXXXXX.XX and a unit byte), the thermal power
  (XXXXXX.XX + unit), the flow (XXXX.XXXX + unit), the cumulative volume
  (XXXXXX.XX + unit), the supply and return temperatures (XXXX.XX °C, 3 bytes
  each), the working time (XXXXXX h, 3 bytes), the clock and ST.

ST is two bytes sent low byte first; in the first, bits 0-1 are the valve
(00 open, 01 closed, 11 abnormal) and bit 2 the battery (1: low); the
standard leaves the other bits to the maker. Unit bytes are codes from the
standard's table of units (``UNITS``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from gateway.core.bcd import (
    BcdFormat,
    Number,
    address_bytes,
    bcd_decoder,
    bcd_encoder,
    unit_address,
)
from gateway.core.codec import CodecError
from gateway.core.meterframe import START, Layout, address_field, frame
from gateway.core.meterframe import ReplyError as ReplyError  # shared with dlt645

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
#: Unit codes (CJ/T 188-2004, table of units): code → (its name, the standard unit it
#: measures in the semantic model, the factor into that unit). The ×10 and ×100 codes
#: follow the table's pattern (each unit, then ×10, then ×100).
UNITS: dict[int, tuple[str, str, float]] = {
    0x01: ("J", "kWh", 1 / 3.6e6),
    0x02: ("Wh", "kWh", 1e-3), 0x03: ("Wh×10", "kWh", 1e-2), 0x04: ("Wh×100", "kWh", 1e-1),
    0x05: ("kWh", "kWh", 1.0), 0x06: ("kWh×10", "kWh", 10.0), 0x07: ("kWh×100", "kWh", 100.0),
    0x08: ("MWh", "kWh", 1e3), 0x09: ("MWh×10", "kWh", 1e4), 0x0A: ("MWh×100", "kWh", 1e5),
    0x0B: ("kJ", "kWh", 1 / 3600), 0x0C: ("kJ×10", "kWh", 1 / 360),
    0x0D: ("kJ×100", "kWh", 1 / 36), 0x0E: ("MJ", "kWh", 1 / 3.6),
    0x0F: ("MJ×10", "kWh", 10 / 3.6), 0x10: ("MJ×100", "kWh", 100 / 3.6),
    0x11: ("GJ", "kWh", 1e3 / 3.6), 0x12: ("GJ×10", "kWh", 1e4 / 3.6),
    0x13: ("GJ×100", "kWh", 1e5 / 3.6),
    0x14: ("W", "kW", 1e-3), 0x15: ("W×10", "kW", 1e-2), 0x16: ("W×100", "kW", 1e-1),
    0x17: ("kW", "kW", 1.0), 0x18: ("kW×10", "kW", 10.0), 0x19: ("kW×100", "kW", 100.0),
    0x1A: ("MW", "kW", 1e3), 0x1B: ("MW×10", "kW", 1e4), 0x1C: ("MW×100", "kW", 1e5),
    0x29: ("L", "m³", 1e-3), 0x2C: ("m³", "m³", 1.0),
    0x32: ("L/h", "m³/h", 1e-3), 0x35: ("m³/h", "m³/h", 1.0),
}
#: The code a meter counting in the standard unit itself sends.
UNIT_CODE = {"kWh": 0x05, "kW": 0x17, "m³": 0x2C, "m³/h": 0x35}
#: Unit byte of volumes: m³.
CUBIC_METRES = UNIT_CODE["m³"]
#: Valve states in ST bits 0-1 (10 is not defined).
VALVE_OPEN, VALVE_CLOSED, VALVE_ABNORMAL = 0b00, 0b01, 0b11
#: ST bit 2: battery voltage low.
BATTERY_LOW_BIT = 2


@dataclass(frozen=True, slots=True)
class CurrentData:
    """Where the fields of a 901F reply sit, counted after DI and SER."""

    size: int
    #: offset of each unit byte → the code a meter in standard units sends there
    units: dict[int, int]
    clock_at: int
    status_at: int


WATER_DATA = CurrentData(19, {4: UNIT_CODE["m³"], 9: UNIT_CODE["m³"]}, clock_at=10,
                         status_at=17)
HEAT_DATA = CurrentData(43, {4: UNIT_CODE["kWh"], 9: UNIT_CODE["kWh"], 14: UNIT_CODE["kW"],
                             19: UNIT_CODE["m³/h"], 24: UNIT_CODE["m³"]},
                        clock_at=34, status_at=41)
HEAT_METER_TYPES = frozenset({0x20, 0x21})
#: Data bytes after DI and SER in a water meter's reply to a read of 901F.
CURRENT_DATA_BYTES = WATER_DATA.size


@cache
def unit_value_decoder(fmt: BcdFormat, unit: str) -> Callable[[Sequence[int]], Number]:
    """A function decoding a BCD value followed by its unit byte into ``unit`` (kWh, kW,
    m³, m³/h): a heat meter counting in GJ or MWh reads in kWh. Raises CodecError for
    a unit code the table lacks or one that measures something else."""
    value = bcd_decoder(fmt)

    def decode(data: Sequence[int]) -> Number:
        code = data[fmt.nbytes]
        known = UNITS.get(code)
        if known is None:
            raise CodecError(f"unit code {code:02X} is not in CJ/T 188's table of units")
        name, measures, factor = known
        if measures != unit:
            raise CodecError(f"unit code {code:02X} ({name}) is not a unit of {unit}")
        raw = value(data[:fmt.nbytes])
        return raw if factor == 1.0 else round(raw * factor, 9)
    return decode


@cache
def unit_value_encoder(fmt: BcdFormat, unit: str) -> Callable[[Number | str], list[int]]:
    """A value in ``unit`` as a meter counting in that unit sends it: BCD, then the code."""
    value = bcd_encoder(fmt)
    code = UNIT_CODE[unit]
    return lambda v: [*value(v), code]


def current_data(meter_type: int) -> CurrentData:
    """The 901F layout of a meter type (heat meters differ from water and gas meters)."""
    return HEAT_DATA if meter_type in HEAT_METER_TYPES else WATER_DATA


VALVE_STATES = {VALVE_OPEN: "valve open", VALVE_CLOSED: "valve closed",
                VALVE_ABNORMAL: "valve abnormal", 0b10: "valve state 10 (undefined)"}


def status_text(status: int) -> str:
    """ST (as sent, low byte first, read as a number) in words: the valve, the battery."""
    words = [VALVE_STATES[status & 0b11]]
    if status >> BATTERY_LOW_BIT & 1:
        words.append("battery low")
    return ", ".join(words)


class ErrorReply(ReplyError):
    """The meter's error reply (C1), carrying its status word."""

    kind = "exception"

    def __init__(self, status: int):
        super().__init__(f"error reply, status {status:04X} ({status_text(status)})")
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
    return Frame(raw[1], address_field(raw[2:9]), raw[9], raw[11:-2])


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
    return unit_address(unit, ADDRESS_BYTES)
