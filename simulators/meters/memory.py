"""A simulated DL/T 645 or CJ/T 188 meter: its values, laid out by data identifier from
the same profile the gateway decodes with.

The physics sets standard values (the semantic model); each is encoded into
its DI's reply bytes with the point's own BCD format. A value the format
cannot hold (a main meter's 95 kW in XX.XXXX) shows as the largest it can,
as a real meter's register tops out. A CJ/T 188 901F reply has the standard's
layout (cjt188.current_data: a water meter's or a heat meter's), its unit bytes
those of a meter counting in the standard units; a status point (valve,
battery) sets only its own bits of the status word.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from gateway.core import cjt188, dlt645
from gateway.core.bcd import BcdFormat, bcd_encoder, bit_field_mask
from gateway.core.codec import CodecError
from gateway.core.profile import Point, Profile, Value
from gateway.core.profile_spec import STATUS_WORDS, MeterProfileSpec
from gateway.core.semantics import STANDARD_POINTS

log = logging.getLogger(__name__)

WriteHook = Callable[[str, str, Value], None]


class MeterMemory:
    """One meter on a line (one device id), answering by DI."""

    def __init__(self, profile: Profile, unit: int, turnaround_s: float | None = None):
        if not isinstance(profile.spec, MeterProfileSpec):
            raise ValueError(f"profile {profile.id} is not a meter profile")
        self.profile = profile
        self.protocol = profile.spec.protocol
        self.meter_type = profile.spec.meter_type
        self.address = cjt188.digits(unit) if self.protocol == "cjt188-2004" else \
            dlt645.digits(unit)
        self.turnaround_s = turnaround_s
        self.device_id: str | None = None
        #: DI (CJ/T 188: type << 16 | DI) → the value bytes of its reply
        self.replies: dict[int, bytearray] = {}
        self._layout = cjt188.current_data(self.meter_type or 0)
        for point in profile.points.values():
            size = point.value_at + point.count
            if point.table == "cjt188" and point.address & 0xFFFF == cjt188.CURRENT_DATA:
                size = max(size, self._layout.size)
            reply = self.replies.setdefault(point.address, bytearray(size))
            if len(reply) < size:
                reply.extend(bytes(size - len(reply)))
        for di, reply in self.replies.items():
            if di & 0xFFFF == cjt188.CURRENT_DATA and self.protocol == "cjt188-2004":
                for at, code in self._layout.units.items():  # a meter counting in our units
                    reply[at] = code
        #: status-word points: the bits of their bytes they own (the rest belong to others)
        self._masks: dict[str, bytes] = {}
        for name, spec in profile.spec.points.items():
            if spec.format in STATUS_WORDS:
                self._masks[name] = bit_field_mask(STATUS_WORDS[spec.format], spec.bit or 0,
                                                   spec.bits)
        self.on_write: WriteHook | None = None
        self._saturated: set[str] = set()

    # -- what the physics uses (as ProfileMemory) ----------------------------------

    def add_device(self, device_id: str, index: int | None = None) -> None:
        self.device_id = device_id

    def device_ids(self) -> list[str]:
        return [] if self.device_id is None else [self.device_id]

    def has_point(self, device_id: str, name: str) -> bool:
        return name in self.profile.points

    def set(self, device_id: str, name: str, value: Value) -> None:
        point = self.profile.points[name]
        try:
            data = point.encode(value, bounded=False)
        except CodecError:
            data = self._saturate(name, point, value)
        reply = self.replies[point.address]
        at = point.value_at
        mask = self._masks.get(name)
        if mask is not None:  # a field of a status word: keep the other fields' bits
            data = [old & ~m | new & m for old, new, m in zip(reply[at:at + point.count], data,
                                                             mask, strict=True)]
        reply[at:at + point.count] = bytes(data)

    def get(self, device_id: str, name: str) -> Value:
        point = self.profile.points[name]
        reply = self.replies[point.address]
        return point.decode(reply[point.value_at:point.value_at + point.count])

    def _saturate(self, name: str, point: Point, value: Value) -> list[int]:
        if point.name not in self._saturated:
            self._saturated.add(point.name)
            log.warning("meter %s: %s = %s does not fit its format; showing the largest it "
                        "holds", self.address, point.name, value)
        assert isinstance(self.profile.spec, MeterProfileSpec)
        spec = self.profile.spec.points[point.name]
        fmt = BcdFormat.parse(spec.format, signed=spec.signed)
        top = fmt.largest if not isinstance(value, str) and value >= 0 else -fmt.largest
        data = bcd_encoder(fmt)(top / point.scale)
        if spec.unit_code:
            data.append(cjt188.UNIT_CODE[STANDARD_POINTS[name].unit])
        return data

    def set_clock(self, now: datetime) -> None:
        """The meter's clock in the CJ/T 188 901F reply (ss mm hh DD MM YYYY, BCD)."""
        reply = self.replies.get((self.meter_type or 0) << 16 | cjt188.CURRENT_DATA)
        if reply is None:
            return
        fields = (now.second, now.minute, now.hour, now.day, now.month, now.year % 100,
                  now.year // 100)
        at = self._layout.clock_at
        reply[at:at + 7] = bytes((v // 10) << 4 | v % 10 for v in fields)

    # -- what the line asks ----------------------------------------------------------

    def answer(self, di: int) -> bytes | None:
        """The value bytes of DI ``di`` (CJ/T 188: type << 16 | DI), None for one it lacks.
        A block DI the profile declares returns its elements in order (zeros for those
        the profile does not map, sized like the ones it does)."""
        reply = self.replies.get(di)
        if reply is not None:
            return bytes(reply)
        elements = self.profile.meter_blocks.get(di)
        if elements is None:
            return None
        size = next(len(self.replies[e]) for e in elements if e in self.replies)
        return b"".join(bytes(self.replies.get(e, bytes(size))) for e in elements)
