"""Pure: an electric vehicle at a charger — battery, state of charge, a tapering curve.

The car takes what the charger offers up to its own acceptance, which is flat up to
``taper_from`` state of charge and falls linearly to ``taper_floor`` of its maximum at
100 % (the constant-current / constant-voltage shape of Li-ion charging).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Vehicle:
    id_tag: str
    battery_kwh: float
    soc: float
    target_soc: float
    #: the car's own limit (onboard charger for AC, the battery's for DC), kW
    max_kw: float
    arrive_s: float
    leave_s: float
    taper_from: float = 0.8
    taper_floor: float = 0.1
    delivered_kwh: float = 0.0
    soc_arrival: float = field(init=False)

    def __post_init__(self) -> None:
        self.soc_arrival = self.soc

    @property
    def requested_kwh(self) -> float:
        """What the driver asked for on arrival: from the arrival SoC to the target."""
        return max(0.0, self.target_soc - self.soc_arrival) * self.battery_kwh

    @property
    def stay_h(self) -> float:
        return (self.leave_s - self.arrive_s) / 3600.0

    @property
    def full(self) -> bool:
        return self.soc >= self.target_soc - 1e-6

    def acceptance_kw(self) -> float:
        if self.full:
            return 0.0
        if self.soc <= self.taper_from:
            return self.max_kw
        frac = (1.0 - self.soc) / (1.0 - self.taper_from)
        return self.max_kw * max(self.taper_floor, frac)

    def draw_kw(self, offered_kw: float) -> float:
        return max(0.0, min(offered_kw, self.acceptance_kw()))

    def charge(self, kw: float, seconds: float) -> float:
        """Take ``kw`` for ``seconds`` (capped at the target); returns the kWh taken."""
        room = max(0.0, (self.target_soc - self.soc) * self.battery_kwh)
        kwh = min(room, kw * seconds / 3600.0)
        self.soc += kwh / self.battery_kwh
        self.delivered_kwh += kwh
        return kwh
