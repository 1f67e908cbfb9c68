"""Occupants who take the remote: a room's AC switched on by the people in it.

Central schedules in Chinese offices switch units off at fixed times, and
whoever stays late and is too warm switches their unit back on (the research's
"occupants' manual overrides"; the after-hours sweeps exist because of them).
Without this, a simulated schedule could save energy by leaving people in the
heat, and the energy of the late stayers would not be counted.

The reaction: people are present, every unit of the room is off, and the air
has been above ``hot_c`` (or below ``cold_c``) for ``patience_s``: the units are
switched on with their last settings, the mode turned to cool (or heat) if it
points the wrong way. Occupants never switch a unit off or change a setpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.physics.ac_unit import AcMode, AcUnit


@dataclass(frozen=True, slots=True)
class OccupantReaction:
    """Thresholds, °C (0.5 K above the 26-28 °C cooling band, 0.5 K below the heating band's
    18 °C), and patience, s."""

    hot_c: float = 28.5
    cold_c: float = 17.5
    patience_s: float = 600.0

    def __post_init__(self) -> None:
        if self.cold_c >= self.hot_c:
            raise ValueError(f"cold_c {self.cold_c} must be below hot_c {self.hot_c}")
        if self.patience_s < 0:
            raise ValueError(f"patience_s must be >= 0, got {self.patience_s}")


class RoomReaction:
    """The occupants of one room: how long they have been uncomfortable."""

    __slots__ = ("_uncomfortable_s", "reaction", "switch_ons")

    def __init__(self, reaction: OccupantReaction) -> None:
        self.reaction = reaction
        self._uncomfortable_s = 0.0
        #: times the occupants switched the room's units on
        self.switch_ons = 0

    def step(self, dt_s: float, people_present: float, t_air_c: float,
             units: tuple[AcUnit, ...]) -> bool:
        """Advance ``dt_s``; True when the occupants switched the units on now."""
        r = self.reaction
        hot, cold = t_air_c > r.hot_c, t_air_c < r.cold_c
        if people_present <= 0 or not units or not (hot or cold) or any(u.power for u in units):
            self._uncomfortable_s = 0.0
            return False
        self._uncomfortable_s += dt_s
        if self._uncomfortable_s < r.patience_s:
            return False
        self._uncomfortable_s = 0.0
        self.switch_ons += 1
        for unit in units:
            if hot and unit.mode in (AcMode.HEAT, AcMode.FAN):
                unit.command(power=True, mode=AcMode.COOL)
            elif cold and unit.mode not in (AcMode.HEAT, AcMode.AUTO):
                unit.command(power=True, mode=AcMode.HEAT)
            else:
                unit.command(power=True)
        return True
