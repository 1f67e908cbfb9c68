"""Faults a simulated unit can show on the wire, switchable at runtime per unit id.

| kind              | what the client sees                                                 |
|-------------------|----------------------------------------------------------------------|
| `none`            | normal answers                                                       |
| `no_reply`        | silence (the request is not executed)                                |
| `exception`       | exception `code` (02, 04, 06, 0x0B …) to every request, not executed |
| `slow`            | the normal answer, `delay_ms` later than usual                       |
| `late`            | the answer to request k only when request k+1 arrives on the same    |
|                   | connection / line: a stale reply a naive client takes for the next   |
| `drop_connection` | TCP: the connection is closed on each request (serial: silence)      |
| `bad_crc`         | RTU: the answer with a corrupted CRC (Modbus TCP: silence)           |
| `vanish`          | silence for `duration_s`, then normal again                          |
| `wrong_address`   | meter lines: the answer comes from another meter address (Modbus     |
|                   | units answer normally)                                               |
| `garbage`         | meter lines: noise before the answer's wake-up bytes (Modbus: normal)|

Any fault may carry `duration_s`; it then ends by itself that long after it was
set, measured with the switch's injected clock. `vanish` requires it.
A write is executed for `slow`, `late` and `bad_crc` (the device did the work,
only its answer suffers), and not for the silent and exception faults.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args

FaultKind = Literal[
    "none", "no_reply", "exception", "slow", "late", "drop_connection", "bad_crc", "vanish",
    "wrong_address", "garbage",
]
FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)
_FIELDS: Final = ("kind", "code", "delay_ms", "duration_s")


class FaultSpecError(ValueError):
    """A fault description that cannot be used; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    kind: FaultKind = "none"
    code: int | None = None
    """Exception code for `exception`."""
    delay_ms: float | None = None
    """Extra reply delay for `slow`."""
    duration_s: float | None = None
    """How long the fault lasts; required for `vanish`, optional for the others."""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultSpecError(f"kind: {self.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if self.kind == "exception":
            if self.code is None:
                raise FaultSpecError("code: required for kind 'exception' (e.g. 2, 4, 6, 11)")
            if not 1 <= self.code <= 0xFF:
                raise FaultSpecError(f"code: {self.code} is not a Modbus exception code (1..255)")
        elif self.code is not None:
            raise FaultSpecError(f"code: only used with kind 'exception', not {self.kind!r}")
        if self.kind == "slow":
            if self.delay_ms is None:
                raise FaultSpecError("delay_ms: required for kind 'slow'")
            _require_positive("delay_ms", self.delay_ms)
        elif self.delay_ms is not None:
            raise FaultSpecError(f"delay_ms: only used with kind 'slow', not {self.kind!r}")
        if self.kind == "vanish" and self.duration_s is None:
            raise FaultSpecError("duration_s: required for kind 'vanish'")
        if self.duration_s is not None:
            if self.kind == "none":
                raise FaultSpecError("duration_s: meaningless for kind 'none'")
            _require_positive("duration_s", self.duration_s)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FaultSpec:
        """Build from a plain dict such as `{"kind": "exception", "code": 6}`."""
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise FaultSpecError(
                f"{', '.join(unknown)}: unknown field(s); use {', '.join(_FIELDS)}"
            )
        kind = data.get("kind")
        if not isinstance(kind, str):
            raise FaultSpecError(f"kind: required, one of {', '.join(FAULT_KINDS)}")
        if kind not in FAULT_KINDS:
            raise FaultSpecError(f"kind: {kind!r} is not one of {', '.join(FAULT_KINDS)}")
        code = data.get("code")
        if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
            raise FaultSpecError(f"code: must be an integer, got {code!r}")
        return cls(
            kind=cast(FaultKind, kind),  # checked against FAULT_KINDS above
            code=code,
            delay_ms=_number(data, "delay_ms"),
            duration_s=_number(data, "duration_s"),
        )

    def to_dict(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in _FIELDS if getattr(self, f) is not None}


def _number(data: Mapping[str, object], field: str) -> float | None:
    value = data.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(f"{field}: must be a number, got {value!r}")
    return float(value)


def _require_positive(field: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise FaultSpecError(f"{field}: must be a positive number, got {value!r}")


class FaultSwitch:
    """The current fault of each unit id. `now` is the clock durations are measured with."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._faults: dict[int, tuple[FaultSpec, float]] = {}

    def set(self, unit_id: int, spec: FaultSpec | Mapping[str, object]) -> FaultSpec:
        """Switch a unit to a fault (a FaultSpec or its dict form); kind `none` clears it."""
        if not isinstance(spec, FaultSpec):
            spec = FaultSpec.from_dict(spec)
        if spec.kind == "none":
            self._faults.pop(unit_id, None)
        else:
            self._faults[unit_id] = (spec, self._now())
        return spec

    def clear(self, unit_id: int) -> None:
        self._faults.pop(unit_id, None)

    def clear_all(self) -> None:
        self._faults.clear()

    def get(self, unit_id: int) -> FaultSpec | None:
        """The fault in force for a unit now, or None (cheap when no fault is set)."""
        entry = self._faults.get(unit_id)
        if entry is None:
            return None
        spec, since = entry
        if spec.duration_s is not None and self._now() - since >= spec.duration_s:
            del self._faults[unit_id]
            return None
        return spec

    def active(self) -> dict[int, FaultSpec]:
        """Every fault in force now, by unit id."""
        return {u: spec for u in list(self._faults) if (spec := self.get(u)) is not None}
