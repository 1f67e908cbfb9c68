"""What acquisition hands upward: a reading (one device's poll, stamped with its read
time) and the outcome of a write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.core.profile import Value


@dataclass(slots=True)
class Reading:
    """One device's poll result.

    ``ts`` is when the device was read (not when anything was published), UTC.
    A point is either in ``values`` (good) or in ``failed`` with the reason —
    never reported as its last value or as 0. ``flags`` marks counters that
    wrapped or were reset (meter replaced) in this reading.
    """

    device: str
    ts: datetime
    seq: int
    values: dict[str, Value] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class WriteOutcome:
    """A write's result; ``applied`` is the value read back (None when not verified or failed)."""

    ok: bool
    error: str | None = None
    applied: Value | None = None
