"""Device profiles: one YAML file per device model in drivers/, the single source of a register map.

The gateway decodes with a profile and the simulators lay out their registers
from the same file. Loading validates the whole file and reports every mistake
as ``file:line: field: message``; what comes out is a compiled ``Profile`` whose
points carry precompiled decoders for the polling hot path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from gateway.core import cjt188 as cjt188_codec
from gateway.core import dlt645
from gateway.core.bcd import (
    BcdFormat,
    bcd_decoder,
    bcd_encoder,
    bit_field_decoder,
    bit_field_encoder,
)
from gateway.core.codec import (
    INTEGER_TYPES,
    CodecError,
    DataType,
    Decoder,
    Encoder,
    Order,
    Raw,
    decoder,
    encoder,
    finite,
    finite_f32,
    register_count,
)
from gateway.core.datadirs import data_dir
from gateway.core.profile_spec import (
    BIT_TABLES,
    METER_TABLE,
    STATUS_WORDS,
    TABLES,
    LinkFacts,
    MeterPointSpec,
    MeterProfileSpec,
    PerUnitLayout,
    PointSpec,
    PointTable,
    ProfileSpec,
    Protocol,
    RegisterRange,
)
from gateway.core.semantics import STANDARD_POINTS, DeviceKind, suggest
from gateway.core.sourcefile import ConfigError, Loc, Problem, SourceDoc, load_yaml

Value = int | float | str


def scaled(raw: float, scale: float, offset: float) -> float:
    """A raw number in the point's standard unit (rounded off the float noise)."""
    return round(raw * scale + offset, 9)


@dataclass(frozen=True, slots=True, eq=False)
class Point:
    """One standard-named point of a device model, ready to decode and encode."""

    name: str
    table: PointTable
    #: register address; for meters the DI (CJ/T 188: meter type << 16 | DI)
    address: int
    count: int
    dtype: DataType | Literal["bcd"]
    order: Order
    scale: float
    offset: float
    unit: str | None
    writable: bool
    min: float | None
    max: float | None
    bit: int | None
    counter: bool
    #: raw device value → standard code, and back (enumerated points)
    codes: dict[int, int] | None
    raws: dict[int, int] | None
    names: dict[str, int] | None
    _decode: Decoder
    _encode: Encoder
    #: byte offset of a meter point's value in its DI's reply (0 for registers)
    value_at: int = 0
    #: a CJ/T 188 unit byte follows the value (counted in ``count``): the value is in the
    #: point's standard unit whatever the meter counts in
    unit_byte: bool = False

    @property
    def end(self) -> int:
        """Last address occupied (inclusive)."""
        return self.address + self.count - 1

    def at(self, address: int) -> Point:
        """The same point moved to another wire address (per-unit gateways)."""
        fields = {f: getattr(self, f) for f in self.__dataclass_fields__}
        fields["address"] = address
        return Point(**fields)

    def decode(self, regs: Sequence[int]) -> Value:
        """Exactly ``count`` registers (or one bit) → the standard value.

        Raises CodecError for a value the profile cannot stand behind: an enum
        value outside the map, NaN or infinity.
        """
        return self.finish(self._decode(regs))

    @property
    def finisher(self) -> Callable[[Raw], Value]:
        """What ``finish`` comes down to for this point, which a block's decoder then calls
        for every value: for a float32 without bit or enum, one or two steps."""
        if self.dtype == "f32" and self.bit is None and self.codes is None:
            if self.scale == 1.0 and self.offset == 0.0:
                return cast(Callable[[Raw], Value], finite_f32)
            scale, offset = self.scale, self.offset
            return lambda raw: scaled(finite_f32(cast(float, raw)), scale, offset)
        return self.finish

    def finish(self, raw: Raw) -> Value:
        """The raw value the registers hold → the standard value (``decode`` after the
        registers are unpacked; a block's values may be unpacked together)."""
        if self.bit is not None:
            raw = (int(raw) >> self.bit) & 1
        if self.codes is not None:
            code = self.codes.get(int(raw))
            if code is None:
                raise CodecError(f"raw value {raw} is not in the profile's enum")
            return code
        if isinstance(raw, str):
            return raw
        if isinstance(raw, float):
            # a float32 drops the binary noise and keeps every digit it holds
            raw = finite_f32(raw) if self.dtype == "f32" else finite(raw)
        if self.scale != 1.0 or self.offset != 0.0:
            return scaled(raw, self.scale, self.offset)
        return raw

    def encode(self, value: Value, *, bounded: bool = True) -> list[int]:
        """A standard value (number, enum name or enum code) → registers to write.

        Raises CodecError for values outside the profile's bounds or enum (unless
        ``bounded`` is false: simulators laying out readings, which may show a code the
        profile does not know, as a device with newer firmware would).
        """
        if self.names is not None and self.raws is not None:
            if isinstance(value, str):
                if value not in self.names:
                    raise CodecError(f"'{value}' is not one of {sorted(self.names)}")
                return self._encode(self.names[value])
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    int(value) != value or (bounded and int(value) not in self.raws):
                raise CodecError(f"{value!r} is not one of {sorted(self.names)}")
            return self._encode(self.raws.get(int(value), int(value)))
        if isinstance(value, str):
            if self.dtype == "string":
                return self._encode(value)
            raise CodecError(f"needs a number, got text {value!r}")
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise CodecError(f"needs a finite number, got {value!r}")
        if bounded and self.min is not None and value < self.min:
            raise CodecError(f"{value} is below the minimum {self.min:g}")
        if bounded and self.max is not None and value > self.max:
            raise CodecError(f"{value} is above the maximum {self.max:g}")
        raw: float | int = (value - self.offset) / self.scale
        if self.dtype in INTEGER_TYPES:
            raw = round(raw)
        if self.table in BIT_TABLES and raw not in (0, 1):
            raise CodecError(f"a {self.table} is 0 or 1, not {value!r}")
        return self._encode(raw)


@dataclass(frozen=True, eq=False)
class Profile:
    """A validated device model."""

    id: str
    path: str
    spec: ProfileSpec | MeterProfileSpec
    points: dict[str, Point]

    @property
    def kind(self) -> DeviceKind:
        return self.spec.kind

    @property
    def protocol(self) -> Protocol:
        return self.spec.protocol

    @property
    def per_unit(self) -> PerUnitLayout | None:
        return self.spec.per_unit if isinstance(self.spec, ProfileSpec) else None

    @property
    def meter_blocks(self) -> dict[int, list[int]]:
        """Block DI → the DIs it returns, in order (DL/T 645 meters that answer blocks)."""
        if not isinstance(self.spec, MeterProfileSpec):
            return {}
        return {b.di: dlt645.block_elements(b.di, b.first, b.count) for b in self.spec.blocks}

    @property
    def link(self) -> LinkFacts:
        return self.spec.link

    def unit_base(self, index: int | None) -> int:
        """Wire address added to point addresses for one unit of a multi-unit gateway."""
        layout = self.per_unit
        if layout is None:
            return 0
        if index is None:
            raise ValueError(f"profile {self.id} serves several units: the device needs an index")
        if not layout.first <= index < layout.first + layout.count:
            last = layout.first + layout.count - 1
            raise ValueError(f"index {index} outside {layout.first}..{last}")
        return layout.base + (index - layout.first) * layout.stride

    def points_for(self, index: int | None = None) -> dict[str, Point]:
        """Points at their wire addresses for one unit (the profile's own for single devices)."""
        base = self.unit_base(index)
        if base == 0:
            return self.points
        return {name: p.at(p.address + base) if p.table not in BIT_TABLES else p
                for name, p in self.points.items()}

    def ranges_for(self, ranges: Sequence[RegisterRange], index: int | None) -> list[RegisterRange]:
        base = self.unit_base(index)
        return [r.model_copy(update={"start": r.start + base, "end": r.end + base})
                if base and r.table not in BIT_TABLES else r for r in ranges]

    def implemented(self, index: int | None = None) -> list[RegisterRange]:
        """Ranges the device answers (explicit, or first..last point per table)."""
        if not isinstance(self.spec, ProfileSpec):
            return []
        if self.spec.implemented is not None:
            return self.ranges_for(self.spec.implemented, index)
        out = []
        for table in TABLES:
            pts = [p for p in self.points.values() if p.table == table]
            if pts:
                out.append(RegisterRange(table=table, start=min(p.address for p in pts),
                                         end=max(p.end for p in pts)))
        return self.ranges_for(out, index)

    def no_bridge(self, index: int | None = None) -> list[RegisterRange]:
        if not isinstance(self.spec, ProfileSpec):
            return []
        return self.ranges_for(self.spec.no_bridge, index)


def _expand_defaults(raw: Any) -> Any:
    """Fill each point's table/type/order from the profile's ``defaults`` before validation."""
    if not isinstance(raw, dict):
        return raw
    defaults = raw.get("defaults")
    points = raw.get("points")
    if not isinstance(defaults, dict) or not isinstance(points, dict):
        return raw
    merged = {}
    for name, point in points.items():
        if isinstance(point, dict):
            point = {**{k: v for k, v in defaults.items() if k in ("table", "type", "order")},
                     **point}
        merged[name] = point
    return {**raw, "points": merged}


def _fits(p: PointSpec, raw: float) -> bool:
    """Whether a raw (wire) value can be encoded in the point's registers."""
    if p.table in BIT_TABLES:
        return raw in (0, 1)
    if p.type == "string" or not math.isfinite(raw):
        return p.type == "string"
    value: float | int = round(raw) if p.type in INTEGER_TYPES else raw
    try:
        encoder(p.type, p.order, p.length)(value)
    except CodecError:
        return False
    return True


def _check(spec: ProfileSpec, doc: SourceDoc) -> list[Problem]:
    """Cross-field checks pydantic cannot express, each pointing at its field."""
    problems: list[Problem] = []

    def bad(loc: Loc, message: str) -> None:
        problems.append(doc.problem(loc, message))

    # (table, address) → the points using it, with the bit each one reads (None: all of it)
    occupied: dict[tuple[str, int], list[tuple[str, int | None]]] = {}
    for name, p in spec.points.items():
        at: Loc = ("points", name)
        std = STANDARD_POINTS.get(name)
        if std is None:
            bad(at, f"'{name}' is not a standard point name{suggest(name)}; "
                    "see docs/semantic-model.md")
            continue
        if spec.kind not in std.kinds:
            bad(at, f"'{name}' is a point of {'/'.join(sorted(std.kinds))} devices, "
                    f"not of a {spec.kind}")
        if p.unit is not None and p.unit != std.unit:
            want = f"'{std.unit}'" if std.unit else "no unit (a plain number)"
            fix = f"write '{std.unit}'" if std.unit and p.unit.lower() == std.unit.lower() \
                else "convert with scale/offset"
            bad((*at, "unit"), f"'{name}' is in {want}, not '{p.unit}'; {fix}")
        if p.table in BIT_TABLES:
            if p.type != "bits":
                bad((*at, "type"), f"a {p.table} point has type bits, not {p.type}")
            if p.bit is not None:
                bad((*at, "bit"), f"a {p.table} is a single bit already; 'bit' picks a bit "
                                  "of a register")
        elif p.type == "bits" and p.bit is None:
            bad((*at, "bit"), "a bits point in a register table needs 'bit' (0-15)")
        if p.bit is not None and p.type not in ("bits", "u16"):
            bad((*at, "bit"), "'bit' applies to a single 16-bit register (type bits or u16)")
        if p.type == "string" and p.length is None:
            bad((*at, "length"), "a string needs its length in registers")
        if p.type != "string" and p.length is not None:
            bad((*at, "length"), "'length' applies to strings only")
        scale_ok = p.scale != 0 and math.isfinite(p.scale)
        if not scale_ok:
            bad((*at, "scale"), "scale must be a non-zero finite number")
        if p.access == "rw":
            if p.table not in ("holding", "coil"):
                bad((*at, "access"), f"{p.table} registers are read-only on Modbus")
            if p.bit is not None and p.table == "holding":
                bad((*at, "access"), "a single bit of a register cannot be written safely")
            if p.enum is None and std.codes is None and p.bit is None and p.type != "bits" \
                    and (p.min is None or p.max is None):
                bad((*at, "access"), "a writable point needs bounds (min and max) or an enum")
        if p.min is not None and p.max is not None and p.min > p.max:
            bad((*at, "min"), f"min {p.min:g} is above max {p.max:g}")
        if p.access == "rw" and p.enum is None and scale_ok:
            for key in ("min", "max"):
                bound = getattr(p, key)
                if bound is not None and not _fits(p, (bound - p.offset) / p.scale):
                    bad((*at, key), f"{key} {bound:g} is {(bound - p.offset) / p.scale:g} on "
                                    f"the wire, which does not fit in {p.type}")
        if std.codes is not None:
            if p.enum is None:
                bad((*at, "enum"), f"'{name}' is enumerated: map each of "
                                   f"{', '.join(std.codes)} that the device knows to its value")
            else:
                for key, raw in p.enum.items():
                    if key not in std.codes:
                        hint = suggest(key, list(std.codes))
                        bad((*at, "enum", key), f"'{key}' is not a standard {name} value "
                                                f"({', '.join(std.codes)}){hint}")
                    elif not _fits(p, raw):
                        where = f"a {p.table} (0 or 1)" if p.table in BIT_TABLES else p.type
                        bad((*at, "enum", key), f"raw value {raw} does not fit in {where}")
                if len(set(p.enum.values())) != len(p.enum):
                    bad((*at, "enum"), "two names map to the same raw value")
        elif p.enum is not None:
            bad((*at, "enum"), f"'{name}' is not an enumerated point")
        try:
            count = 1 if p.table in BIT_TABLES else register_count(p.type, p.length)
        except CodecError:
            continue
        last = p.address + count - 1
        if last > 65535:
            bad((*at, "address"), "the value runs past register 65535")
        if spec.per_unit is not None and p.table not in BIT_TABLES and \
                last >= spec.per_unit.stride:
            bad((*at, "address"), f"offset {p.address} runs past the unit's block of "
                                  f"{spec.per_unit.stride} registers")
        if spec.implemented is not None and not any(
                r.table == p.table and r.start <= p.address and last <= r.end
                for r in spec.implemented):
            bad((*at, "address"), f"{p.table} 0x{p.address:04X}..0x{last:04X} is outside "
                                  f"every 'implemented' range of that table")
        for a in range(p.address, last + 1):
            users = occupied.setdefault((p.table, a), [])
            clash = next((other for other, other_bit in users
                          if p.bit is None or other_bit is None or other_bit == p.bit), None)
            if clash is not None:
                bad((*at, "address"), f"overlaps '{clash}' at {p.table} 0x{a:04X}")
                break
            users.append((name, p.bit))
    for key in ("no_bridge", "implemented"):
        for i, r in enumerate(getattr(spec, key) or []):
            if r.start > r.end:
                bad((key, i, "start"), f"start 0x{r.start:04X} is after end 0x{r.end:04X}")
    return problems


def _compile_point(name: str, p: PointSpec) -> Point:
    std = STANDARD_POINTS[name]
    dtype: DataType = "bits" if p.table in BIT_TABLES else p.type
    codes = raws = names = None
    if p.enum is not None and std.codes is not None:
        codes = {raw: std.codes[key] for key, raw in p.enum.items()}
        raws = {std.codes[key]: raw for key, raw in p.enum.items()}
        names = dict(p.enum)
    return Point(
        name=name, table=p.table, address=p.address,
        count=1 if p.table in BIT_TABLES else register_count(p.type, p.length),
        dtype=dtype, order=p.order, scale=p.scale, offset=p.offset, unit=p.unit,
        writable=p.access == "rw", min=p.min, max=p.max, bit=p.bit, counter=std.counter,
        codes=codes, raws=raws, names=names,
        _decode=decoder(dtype, p.order, p.length), _encode=encoder(dtype, p.order, p.length),
    )


def _check_meter(spec: MeterProfileSpec, doc: SourceDoc) -> list[Problem]:
    """A meter profile's cross-field checks, each pointing at its field."""
    problems: list[Problem] = []

    def bad(loc: Loc, message: str) -> None:
        problems.append(doc.problem(loc, message))

    cjt188 = spec.protocol == "cjt188-2004"
    if cjt188 and spec.meter_type is None:
        bad(("meter_type",), "a CJ/T 188 profile names its meter type (0x10 cold water, "
                             "0x11 hot water, 0x20 heat …)")
    if not cjt188 and spec.meter_type is not None:
        bad(("meter_type",), "meter_type is CJ/T 188's; a DL/T 645 meter has none")
    replies: dict[int, list[tuple[str, int, int, int]]] = {}
    for name, p in spec.points.items():
        where: Loc = ("points", name)
        std = STANDARD_POINTS.get(name)
        if std is None:
            bad(where, f"'{name}' is not a standard point name{suggest(name)}; "
                       "see docs/semantic-model.md")
            continue
        if spec.kind not in std.kinds:
            bad(where, f"'{name}' is a point of {'/'.join(sorted(std.kinds))} devices, "
                       f"not of a {spec.kind}")
        if std.codes is not None:
            bad(where, f"'{name}' is enumerated; meter profiles hold numbers only")
        if p.unit is not None and p.unit != std.unit:
            want = f"'{std.unit}'" if std.unit else "no unit (a plain number)"
            bad((*where, "unit"), f"'{name}' is in {want}, not '{p.unit}'; convert with scale")
        if p.scale == 0 or not math.isfinite(p.scale):
            bad((*where, "scale"), "scale must be a non-zero finite number")
        if cjt188 and p.di > 0xFFFF:
            bad((*where, "di"), f"a CJ/T 188 DI is two bytes (such as 0x901F), not {p.di:#x}")
        if not cjt188 and 0x4000 <= p.di <= 0xFFFF:
            bad((*where, "di"), f"DI {p.di:#06x} looks like a DL/T 645-1997 identifier (two "
                                "bytes, 9010 total energy); the 2007 edition's are four "
                                "(0x00010000 forward active energy): only 2007 is supported")
        if not cjt188 and p.at:
            bad((*where, "at"), "'at' picks a value out of a CJ/T 188 reply; a DL/T 645 DI "
                             "holds one value")
        word = STATUS_WORDS.get(p.format)
        if word is not None:
            if p.signed or p.unit_code:
                bad((*where, "format"), f"a {p.format} status word is neither signed nor "
                                        "followed by a unit byte")
            first = p.bit or 0
            if first + p.bits > 8 * word:
                bad((*where, "bits"), f"bits {first}-{first + p.bits - 1} do not fit in "
                                      f"{p.format} ({8 * word} bits)")
            nbytes, field = word, ((1 << p.bits) - 1) << first
        else:
            if p.bit is not None or p.bits != 1:
                bad((*where, "bit"), "'bit' and 'bits' pick a field of a status word "
                                     "(format: u8 or u16), not of a BCD value")
            try:
                fmt = BcdFormat.parse(p.format, signed=p.signed)
            except ValueError as exc:
                bad((*where, "format"), str(exc))
                continue
            nbytes, field = fmt.nbytes + p.unit_code, -1
            if p.unit_code and not cjt188:
                bad((*where, "unit_code"), "unit bytes are CJ/T 188's; a DL/T 645 value's "
                                           "unit is fixed by its DI")
            elif p.unit_code and std.unit not in cjt188_codec.UNIT_CODE:
                bad((*where, "unit_code"), f"'{name}' is in '{std.unit or 'no unit'}'; CJ/T 188 "
                                           "unit bytes give kWh, kW, m³ or m³/h")
        for other, start, end, bits in replies.get(p.di, []):
            if start == p.at and end == p.at + nbytes and field != -1 and bits != -1:
                if bits & field:  # two fields of one status word: their bits must differ
                    bad((*where, "bit"), f"shares bits of the status word with '{other}'")
            elif p.at < end and start < p.at + nbytes:
                bad((*where, "at"), f"overlaps '{other}' in the reply to DI {p.di:#x}")
        replies.setdefault(p.di, []).append((name, p.at, p.at + nbytes, field))
    for i, block in enumerate(spec.blocks):
        where = ("blocks", i, "di")
        if cjt188 or dlt645.block_byte(block.di) is None:
            bad(where, f"{block.di:08X} is not a DL/T 645 block DI (exactly one FF byte, "
                       "such as 0x0201FF00)")
            continue
        members = [(n, p) for n, p in spec.points.items()
                   if p.di in dlt645.block_elements(block.di, block.first, block.count)]
        if len({(p.format, p.at) for _, p in members}) > 1:
            bad(where, f"the points of block {block.di:08X} ("
                       f"{', '.join(n for n, _ in members)}) differ in format or 'at'")
    return problems


def _meter_codec(name: str, p: MeterPointSpec) -> tuple[int, Decoder, Encoder]:
    """Bytes of a meter point's value in its reply, and its decoder and encoder."""
    word = STATUS_WORDS.get(p.format)
    if word is not None:
        field = (word, p.bit or 0, p.bits)
        return word, bit_field_decoder(*field), bit_field_encoder(*field)
    fmt = BcdFormat.parse(p.format, signed=p.signed)
    if p.unit_code:
        unit = STANDARD_POINTS[name].unit
        return (fmt.nbytes + 1, cjt188_codec.unit_value_decoder(fmt, unit),
                cjt188_codec.unit_value_encoder(fmt, unit))
    return fmt.nbytes, bcd_decoder(fmt), bcd_encoder(fmt)


def _compile_meter_point(name: str, p: MeterPointSpec, spec: MeterProfileSpec) -> Point:
    table = METER_TABLE[spec.protocol]
    address = p.di if spec.meter_type is None else spec.meter_type << 16 | p.di
    count, decode, encode = _meter_codec(name, p)
    return Point(
        name=name, table=table, address=address, count=count,
        dtype="bits" if p.format in STATUS_WORDS else "bcd", order="ABCD",
        scale=p.scale, offset=0.0, unit=p.unit, writable=False, min=None, max=None, bit=None,
        counter=STANDARD_POINTS[name].counter, codes=None, raws=None, names=None,
        _decode=decode, _encode=encode, value_at=p.at, unit_byte=p.unit_code)


def _load_meter_profile(path: str | Path, doc: SourceDoc) -> Profile:
    spec = doc.validate(MeterProfileSpec)
    problems = _check_meter(spec, doc)
    if problems:
        raise ConfigError(problems)
    points = {name: _compile_meter_point(name, p, spec) for name, p in spec.points.items()}
    return Profile(Path(path).stem, str(path), spec, points)


def load_profile(path: str | Path) -> Profile:
    """Load and validate one profile; raises ConfigError listing every problem."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "a profile is a mapping (vendor:, model:, kind:, "
                                           "source:, points: …)")])
    if doc.data.get("protocol", "modbus") != "modbus":
        return _load_meter_profile(path, doc)
    spec = doc.validate(ProfileSpec, _expand_defaults(doc.data))
    problems = _check(spec, doc)
    if problems:
        raise ConfigError(problems)
    points = {name: _compile_point(name, p) for name, p in spec.points.items()}
    return Profile(Path(path).stem, str(path), spec, points)


DRIVERS_DIR = data_dir("drivers")


def profile_path(profile_id: str, drivers: Path | None = None) -> Path:
    return (drivers or DRIVERS_DIR) / f"{profile_id}.yaml"


def available_profiles(drivers: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (drivers or DRIVERS_DIR).glob("*.yaml"))


class ProfileLibrary:
    """Profiles by id, each loaded once from a drivers folder."""

    def __init__(self, drivers: Path | None = None):
        self.drivers = drivers or DRIVERS_DIR
        self._cache: dict[str, Profile] = {}

    def get(self, profile_id: str) -> Profile:
        """Raises KeyError for an unknown id and ConfigError for an invalid file."""
        if profile_id not in self._cache:
            path = profile_path(profile_id, self.drivers)
            if not path.is_file():
                raise KeyError(profile_id)
            self._cache[profile_id] = load_profile(path)
        return self._cache[profile_id]

    def ids(self) -> list[str]:
        return available_profiles(self.drivers)
