"""A simulated unit's registers, laid out from the same profile the gateway decodes with.

One ``ProfileMemory`` per unit id on a link. A multi-unit gateway such as a
CoolMasterNet is one unit id holding several devices' blocks (by index). The
device's documented behaviour comes from its profile: which ranges answer,
what unmapped registers read as, the device's own maximum read length, the
ranges a read must not bridge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.core.codec import CodecError
from gateway.core.profile import Point, Profile, Value
from gateway.core.profile_spec import BIT_TABLES, ProfileSpec, RegisterRange
from simulators.modbus.memory import (
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    ILLEGAL_FUNCTION,
    ModbusError,
    Table,
)

#: Called after a successful write with (device id, point name, standard value).
WriteHook = Callable[[str, str, Value], None]
#: Called on every read or write request that reaches the unit (a device's watchdog).
AccessHook = Callable[[], None]


@dataclass
class _Block:
    device_id: str
    points: dict[str, Point]
    implemented: list[RegisterRange]
    no_bridge: list[RegisterRange]


class ProfileMemory:
    """The four tables of one unit id, filled from standard-named point values."""

    def __init__(self, profile: Profile, turnaround_s: float | None = None):
        self.profile = profile
        self.max_read_registers = profile.link.max_read_registers
        self.max_read_bits = profile.link.max_read_bits
        self.turnaround_s = turnaround_s
        if not isinstance(profile.spec, ProfileSpec):
            raise ValueError(f"profile {profile.id} is not a Modbus profile")
        self.fill = profile.spec.fill
        self.unmapped_start_is_error = profile.spec.unmapped_start_is_error
        self.tables: dict[str, dict[int, int]] = {t: {} for t in
                                                  ("coil", "discrete", "holding", "input")}
        self._blocks: dict[str, _Block] = {}
        #: addresses the device answers, and those no read may touch, per table
        self._answered: dict[str, set[int]] = {t: set() for t in self.tables}
        self._forbidden: dict[str, set[int]] = {t: set() for t in self.tables}
        #: (table, address) → (device id, point) for every address a point occupies
        self._owner: dict[tuple[str, int], tuple[str, Point]] = {}
        self.on_write: WriteHook | None = None
        self.on_access: AccessHook | None = None

    def add_device(self, device_id: str, index: int | None = None) -> None:
        """Lay out one device's block (all of it, for single-unit profiles)."""
        points = self.profile.points_for(index)
        block = _Block(device_id, points, self.profile.implemented(index),
                       self.profile.no_bridge(index))
        self._blocks[device_id] = block
        for r in block.implemented:
            self._answered[r.table].update(range(r.start, r.end + 1))
        for r in block.no_bridge:
            self._forbidden[r.table].update(range(r.start, r.end + 1))
        for point in points.values():
            for a in range(point.address, point.end + 1):
                self._owner[(point.table, a)] = (device_id, point)
                self.tables[point.table].setdefault(a, 0)

    def device_ids(self) -> list[str]:
        return list(self._blocks)

    def set(self, device_id: str, name: str, value: Value) -> None:
        """Store a standard value (number or enum code) into the point's registers."""
        point = self._blocks[device_id].points[name]
        regs = point.encode(value, bounded=False)
        table = self.tables[point.table]
        for i, reg in enumerate(regs):
            table[point.address + i] = reg

    def get(self, device_id: str, name: str) -> Value:
        point = self._blocks[device_id].points[name]
        table = self.tables[point.table]
        return point.decode([table[a] for a in range(point.address, point.end + 1)])

    def has_point(self, device_id: str, name: str) -> bool:
        return name in self._blocks[device_id].points

    # -- UnitMemory -------------------------------------------------------------

    def read(self, table: Table, address: int, count: int) -> list[int]:
        if self.on_access is not None:
            self.on_access()
        limit = self.max_read_bits if table in BIT_TABLES else self.max_read_registers
        if count > limit:
            raise ModbusError(ILLEGAL_DATA_VALUE, f"read of {count} exceeds the device's {limit}")
        end = address + count - 1
        self._check_range(table, address, end)
        cells = self.tables[table]
        if self.unmapped_start_is_error and (table, address) not in self._owner:
            raise ModbusError(ILLEGAL_DATA_ADDRESS, f"read starts on unmapped {table} {address}")
        fill = 0 if table in BIT_TABLES else self.fill
        return [cells.get(a, fill) for a in range(address, end + 1)]

    def write(self, table: Table, address: int, values: list[int]) -> None:
        if self.on_access is not None:
            self.on_access()
        if table not in ("coil", "holding"):
            raise ModbusError(ILLEGAL_FUNCTION, f"{table} table is read-only")
        end = address + len(values) - 1
        touched: dict[tuple[str, str], Point] = {}
        for a in range(address, end + 1):
            owner = self._owner.get((table, a))
            if owner is None or not owner[1].writable:
                raise ModbusError(ILLEGAL_DATA_ADDRESS, f"{table} {a} is not writable")
            touched[(owner[0], owner[1].name)] = owner[1]
        staged = dict(self.tables[table])
        for i, v in enumerate(values):
            staged[address + i] = v
        decoded: list[tuple[str, str, Value]] = []
        for (device_id, name), point in touched.items():
            if point.address < address or point.end > end:
                raise ModbusError(ILLEGAL_DATA_ADDRESS, f"write splits point {name}")
            try:
                value = point.decode([staged[a] for a in range(point.address, point.end + 1)])
            except CodecError as exc:
                raise ModbusError(ILLEGAL_DATA_VALUE, f"{name}: {exc}") from None
            if not isinstance(value, str) and (
                    (point.min is not None and value < point.min)
                    or (point.max is not None and value > point.max)):
                raise ModbusError(ILLEGAL_DATA_VALUE, f"{name}={value} outside the device's range")
            decoded.append((device_id, name, value))
        self.tables[table] = staged
        if self.on_write is not None:
            for device_id, name, value in decoded:
                self.on_write(device_id, name, value)

    def _check_range(self, table: str, start: int, end: int) -> None:
        answered = self._answered[table]
        forbidden = self._forbidden[table]
        for a in range(start, end + 1):
            if a not in answered or a in forbidden:
                raise ModbusError(ILLEGAL_DATA_ADDRESS, f"{table} {start}..{end}: {a} not readable")
