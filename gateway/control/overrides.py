"""Operator overrides (MQTT commands, the CLI): a value per point that holds until it expires.

An override sits in the precedence below window and demand control and above
occupancy, tariff optimisation and the schedule; the regulatory clamps and
equipment protection still apply to it. When it expires (``until``), the unit
goes back to its schedule's current step by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from gateway.control.ruleset import POINTS


@dataclass(frozen=True, slots=True)
class Override:
    id: str
    device: str
    #: point index (ruleset.POINTS) → standard value
    values: tuple[tuple[int, int | float], ...]
    start: float
    until: float
    source: str = "mqtt"
    who: str | None = None
    note: str | None = None

    def describe(self, tz: tzinfo | None = None) -> str:
        vals = ", ".join(f"{POINTS[p]}={v:g}" for p, v in self.values)
        until = datetime.fromtimestamp(self.until, tz or UTC).isoformat(timespec="seconds")
        by = f" by {self.who}" if self.who else ""
        return f"override {self.id} ({self.source}{by}): {vals} until {until}"


@dataclass
class OverrideBook:
    #: device → point index → the override holding it
    held: dict[str, dict[int, Override]] = field(default_factory=dict)

    def add(self, ov: Override) -> None:
        points = self.held.setdefault(ov.device, {})
        for p, _ in ov.values:
            points[p] = ov

    def expire(self, now: float) -> list[Override]:
        """Drop overrides whose time is up; returns them (once each)."""
        gone: dict[int, Override] = {}
        for device in list(self.held):
            points = self.held[device]
            for p in [p for p, ov in points.items() if ov.until <= now]:
                ov = points.pop(p)
                gone[id(ov)] = ov
            if not points:
                del self.held[device]
        return list(gone.values())

    def of(self, device: str) -> dict[int, Override]:
        return self.held.get(device, {})
