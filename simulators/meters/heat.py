"""A heat meter on a heating loop (pure: no I/O): what it measures, integrated.

The loop carries ``flow_m3_h`` of water from the supply at ``supply_temp_c``
back at ``return_temp_c``; the meter integrates the volume, the heat and its
working time:

    thermal power [kW] = flow [m³/h] / 3600 × ρ [kg/m³] × c [kJ/(kg·K)] × Δt [K]

with the density and heat capacity of water taken as constants (983 kg/m³ and
4.18 kJ/(kg·K) near 60 °C; a real meter uses EN 1434's temperature-dependent
heat coefficient, a few tenths of a percent from this). Heat and volume come
from the same flow in the same step, so the heat a meter shows is always the
volume it shows times c·ρ·Δt — the consistency a test can check.

The loop follows the weather: the heating load grows as the outdoor temperature
falls below ``balance_c``, with the flow held at its design value and the
temperature difference carrying the load (a constant-flow secondary loop).
"""

from __future__ import annotations

from dataclasses import dataclass

#: density of water near 60 °C, kg/m³
WATER_DENSITY = 983.0
#: specific heat capacity of water, kJ/(kg·K)
WATER_HEAT_CAPACITY = 4.18
#: kWh per m³ and kelvin: ρ·c / 3600
KWH_PER_M3_K = WATER_DENSITY * WATER_HEAT_CAPACITY / 3600


def thermal_power_kw(flow_m3_h: float, supply_c: float, return_c: float) -> float:
    """Heat carried by the flow, kW (negative for a loop returning warmer: cooling)."""
    return flow_m3_h * KWH_PER_M3_K * (supply_c - return_c)


@dataclass(frozen=True, slots=True)
class HeatLoopSpec:
    design_flow_m3_h: float = 2.0
    supply_c: float = 45.0
    #: temperature difference at the design outdoor temperature
    design_delta_k: float = 10.0
    design_outdoor_c: float = -5.0
    #: outdoor temperature above which the building needs no heat
    balance_c: float = 18.0


class HeatMeterPhysics:
    """The values a CJ/T 188 heat meter shows, from the loop's flow and temperatures."""

    def __init__(self, spec: HeatLoopSpec | None = None, *, heat_kwh: float = 0.0,
                 volume_m3: float = 0.0, hours: float = 0.0):
        self.spec = spec or HeatLoopSpec()
        self.heat_kwh = heat_kwh
        self.volume_m3 = volume_m3
        self.hours = hours
        self.flow_m3_h = 0.0
        self.supply_c = self.spec.supply_c
        self.return_c = self.spec.supply_c

    def step(self, dt_s: float, outdoor_c: float) -> None:
        """Account ``dt_s`` seconds of the loop at ``outdoor_c``."""
        s = self.spec
        load = (s.balance_c - outdoor_c) / (s.balance_c - s.design_outdoor_c)
        load = min(max(load, 0.0), 1.5)
        self.run(dt_s, s.design_flow_m3_h, s.supply_c, s.supply_c - s.design_delta_k * load)

    def run(self, dt_s: float, flow_m3_h: float, supply_c: float, return_c: float) -> None:
        """Account ``dt_s`` seconds at this flow and these temperatures."""
        self.flow_m3_h, self.supply_c, self.return_c = max(flow_m3_h, 0.0), supply_c, return_c
        hours = dt_s / 3600
        self.volume_m3 += self.flow_m3_h * hours
        self.heat_kwh += max(self.power_kw, 0.0) * hours
        self.hours += hours

    @property
    def power_kw(self) -> float:
        return thermal_power_kw(self.flow_m3_h, self.supply_c, self.return_c)

    def readings(self) -> dict[str, float]:
        """Standard point values (docs/semantic-model.md)."""
        return {"heat_energy_kwh": self.heat_kwh, "thermal_power_kw": max(self.power_kw, 0.0),
                "flow_m3_h": self.flow_m3_h, "volume_m3": self.volume_m3,
                "supply_temp_c": round(self.supply_c, 2), "return_temp_c": round(self.return_c, 2),
                "operating_hours_h": float(int(self.hours + 1e-9))}  # whole hours shown
