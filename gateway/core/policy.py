"""Public-institution setpoint limits: the hard clamp every path obeys, manual included.

China's public institutions may not cool below 26 °C nor heat above 20 °C
(hvac-energy-domain.md §c). A zone may carry a recorded exemption with its
reason (hospital wards, server rooms). Pure functions: the command path and the
control loop both ask ``violation`` before writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.semantics import MODE_CODES

COOLING_MODES = frozenset({MODE_CODES["cool"], MODE_CODES["dry"]})
HEATING_MODES = frozenset({MODE_CODES["heat"]})
AUTO_MODE = MODE_CODES["auto"]


@dataclass(frozen=True)
class SetpointPolicy:
    cooling_floor_c: float = 26.0
    heating_ceiling_c: float = 20.0
    #: zone → reason the zone is exempt
    exemptions: dict[str, str] = field(default_factory=dict)

    def exempt(self, zone: str | None) -> bool:
        return zone is not None and zone in self.exemptions

    def violation(self, zone: str | None, mode: int | None, setpoint_c: float | None) -> str | None:
        """Why (mode, setpoint) breaks the limits for this zone, or None when it is allowed.

        ``mode`` None means unknown: no setpoint satisfies both limits, so a
        setpoint is refused. Auto mode can cool or heat, so it is refused
        outright for zones without an exemption.
        """
        if self.exempt(zone):
            return None
        if mode == AUTO_MODE:
            return (f"auto mode may cool below {self.cooling_floor_c:g} °C or heat above "
                    f"{self.heating_ceiling_c:g} °C; command cool or heat")
        if setpoint_c is None:
            return None
        if mode in COOLING_MODES and setpoint_c < self.cooling_floor_c:
            return (f"cooling setpoint {setpoint_c:g} °C is below the "
                    f"{self.cooling_floor_c:g} °C floor")
        if mode in HEATING_MODES and setpoint_c > self.heating_ceiling_c:
            return (f"heating setpoint {setpoint_c:g} °C is above the "
                    f"{self.heating_ceiling_c:g} °C ceiling")
        if mode is None:
            return "the unit's mode is unknown, so the setpoint limit cannot be checked"
        return None

    def clamp(self, zone: str | None, mode: int | None, setpoint_c: float) -> float:
        """The nearest allowed setpoint for the mode (unchanged when allowed or exempt)."""
        if self.exempt(zone):
            return setpoint_c
        if mode in COOLING_MODES:
            return max(setpoint_c, self.cooling_floor_c)
        if mode in HEATING_MODES:
            return min(setpoint_c, self.heating_ceiling_c)
        return setpoint_c
