"""What a device profile says, as written: the schema of a drivers/ YAML file (Modbus
register maps and DL/T 645 / CJ/T 188 meters by data identifier) and the table facts
every Modbus path shares. gateway/core/profile.py checks a profile against it and
compiles it into points with their decoders.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict, JsonValue

from gateway.core.bcd import FORMAT_PATTERN
from gateway.core.codec import DataType, Order
from gateway.core.semantics import DEVICE_KINDS, STANDARD_POINTS, DeviceKind

Table = Literal["coil", "discrete", "holding", "input"]
TABLES: tuple[Table, ...] = ("coil", "discrete", "holding", "input")
#: Points read by data identifier: DL/T 645-2007 and CJ/T 188-2004 meters.
MeterTable = Literal["dlt645", "cjt188"]
PointTable = Table | MeterTable
#: What a profile's device speaks; meter protocols name their edition (1997 meters differ).
Protocol = Literal["modbus", "dlt645-2007", "cjt188-2004"]
METER_TABLE: dict[str, MeterTable] = {"dlt645-2007": "dlt645", "cjt188-2004": "cjt188"}
#: Binary status words a meter profile may read beside BCD values: bytes of each.
STATUS_WORDS = {"u8": 1, "u16": 2}
METER_FORMAT_PATTERN = "^(u8|u16|" + FORMAT_PATTERN.removeprefix("^").removesuffix("$") + ")$"
BIT_TABLES = frozenset({"coil", "discrete"})
#: Modbus read function code per table.
READ_FUNCTION: dict[str, int] = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceInfo(_Strict):
    """Where the register map comes from."""

    document: str
    url: str | None = None
    notes: str | None = None


class SerialDefaults(_Strict):
    baudrate: int = Field(9600, ge=300, le=921_600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class LinkFacts(_Strict):
    """What the device allows on the wire; the planner and scheduler obey these."""

    serial: SerialDefaults = SerialDefaults()
    max_read_registers: int = Field(125, ge=1, le=125)
    max_read_bits: int = Field(2000, ge=1, le=2000)
    #: Largest hole (registers) a merged read may bridge.
    max_gap_registers: int = Field(16, ge=0, le=124)
    #: Silence the device needs between two requests (Eastron: 60 ms).
    min_gap_ms: float = Field(0, ge=0, le=10_000)
    #: Typical time from the end of a request to the start of the reply.
    turnaround_ms: float = Field(20, ge=0, le=10_000)


class PerUnitLayout(_Strict):
    """Multi-unit gateways (e.g. CoolMasterNet): unit ``i`` lives at base + (i - first) * stride.

    Point addresses in such a profile are offsets inside one unit's block.
    """

    base: int = Field(ge=0, le=65535)
    stride: int = Field(ge=1, le=65535)
    first: int = Field(1, ge=0)
    count: int = Field(ge=1, le=1024)


class RegisterRange(_Strict):
    """Inclusive range of wire addresses (offsets, for per-unit profiles) in one table."""

    table: Table
    start: int = Field(ge=0, le=65535)
    end: int = Field(ge=0, le=65535)
    reason: str | None = None


def _point_json(schema: JsonDict) -> None:
    """In the JSON Schema a point may leave out ``table``; ``_profile_json`` says when."""
    schema["required"] = [k for k in cast(list[str], schema["required"]) if k != "table"]


def _profile_json(schema: JsonDict) -> None:
    """For editors, what the fields alone do not say: a point without ``table`` takes the
    one in ``defaults`` (``_expand_defaults``), and point names are the standard names
    of the profile's kind (``_check``)."""
    has_default: JsonDict = {"properties": {"table": {"type": "string"}}, "required": ["table"]}
    rules: list[JsonValue] = [{
        "if": {"properties": {"defaults": has_default}, "required": ["defaults"]},
        "else": {"properties": {"points": {"additionalProperties": {"required": ["table"]}}}}}]
    for kind in DEVICE_KINDS:
        names: list[JsonValue] = [n for n, p in STANDARD_POINTS.items() if kind in p.kinds]
        rules.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                      "then": {"properties": {"points": {"propertyNames": {"enum": names}}}}})
    schema["allOf"] = rules


class PointSpec(_Strict):
    model_config = ConfigDict(json_schema_extra=_point_json)

    table: Table
    address: int = Field(ge=0, le=65535)
    type: DataType = "u16"
    order: Order = "ABCD"
    length: int | None = Field(None, ge=1, le=123)
    bit: int | None = Field(None, ge=0, le=15)
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    access: Literal["r", "rw"] = "r"
    min: float | None = None
    max: float | None = None
    #: Standard name → the device's raw value (enumerated points only).
    enum: dict[str, int] | None = None
    description: str | None = None


class PointDefaults(_Strict):
    table: Table | None = None
    type: DataType | None = None
    order: Order | None = None


class _ProfileBase(_Strict):
    """What every profile says, whatever its device speaks."""

    vendor: str
    model: str
    kind: DeviceKind
    source: SourceInfo
    verified: list[str] = []
    unverified: list[str] = []
    link: LinkFacts = LinkFacts()
    #: An example site-file entry, for the reader of the profile.
    example: dict[str, Any] | None = None


class ProfileSpec(_ProfileBase):
    """A Modbus profile, as written."""

    model_config = ConfigDict(json_schema_extra=_profile_json)

    protocol: Literal["modbus"] = "modbus"
    per_unit: PerUnitLayout | None = None
    #: Ranges the device answers; reads outside them get exception 02.
    #: Default: from the first to the last point of each table.
    implemented: list[RegisterRange] | None = None
    #: Ranges a merged read must never bridge (the device answers 02).
    no_bridge: list[RegisterRange] = []
    #: Value of unmapped registers inside an implemented range.
    fill: int = Field(0, ge=0, le=0xFFFF)
    #: Whether a read that starts on an unmapped register is refused with 02 (CoolMasterNet).
    unmapped_start_is_error: bool = False
    defaults: PointDefaults = PointDefaults()
    points: dict[str, PointSpec]


class MeterPointSpec(_Strict):
    """A point of a DL/T 645 or CJ/T 188 meter: a data identifier and a BCD format."""

    #: data identifier: DI3..DI0 as printed (DL/T 645-2007: 0x02010100 phase A voltage),
    #: or the two bytes of CJ/T 188 (0x901F current data)
    di: int = Field(ge=0, le=0xFFFFFFFF)
    #: BCD digits as the standard prints them: XXXXXX.XX, XXX.X, XX.XXXX …; or a
    #: binary status word of one or two bytes sent low byte first (u8, u16: CJ/T 188 ST)
    format: str = Field(json_schema_extra={"pattern": METER_FORMAT_PATTERN})
    #: the top bit of the most significant byte is the sign (currents, powers, PF)
    signed: bool = False
    #: a status word's field: its lowest bit (0 = the first byte's lowest) …
    bit: int | None = Field(None, ge=0, le=15)
    #: … and how many bits it has (CJ/T 188 valve: bit 0, 2 bits)
    bits: int = Field(1, ge=1, le=16)
    #: a CJ/T 188 unit byte follows the value; it is read and the value converted to
    #: the point's standard unit (a heat meter counting in GJ or MWh reads in kWh)
    unit_code: bool = False
    #: byte offset of the value in the DI's reply (CJ/T 188 901F: several values)
    at: int = Field(0, ge=0, le=200)
    scale: float = 1.0
    unit: str | None = None
    description: str | None = None


class MeterBlockSpec(_Strict):
    """A DL/T 645 block read the meter answers: one DI with an FF byte returning ``count``
    values, the FF byte counting from ``first`` (0x0201FF00, 1, 3: voltages A, B, C)."""

    di: int = Field(ge=0, le=0xFFFFFFFF)
    first: int = Field(0, ge=0, le=0xFE)
    count: int = Field(ge=2, le=64)


class MeterProfileSpec(_ProfileBase):
    """A DL/T 645-2007 or CJ/T 188-2004 meter profile, as written: points by DI and format."""

    protocol: Literal["dlt645-2007", "cjt188-2004"]
    #: CJ/T 188 meter type (0x10 cold water, 0x11 hot water, 0x20 heat …)
    meter_type: int | None = Field(None, ge=0, le=0xFF)
    points: dict[str, MeterPointSpec]
    #: block reads the meter is known to answer (read instead of their points one by one)
    blocks: list[MeterBlockSpec] = []
