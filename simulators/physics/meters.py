"""Electricity and water meters fed by the simulation.

The energy counters integrate exactly: each :meth:`EnergyMeter.step` is told
the mean power over the interval just simulated (the simulation holds power
constant within a step), and adds ``power × dt``. The electrical quantities
around it (phase voltages, currents, power factor, frequency) get small noise
from a seeded RNG, updated once per step so that reading is side-effect free.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MeterParams:
    """Three-phase 230/400 V supply. Units: V, Hz, fractions."""

    nominal_voltage_v: float = 230.0
    voltage_noise_v: float = 1.5  # σ of each phase's slow wander
    frequency_hz: float = 50.0
    frequency_noise_hz: float = 0.02
    power_factor: float = 0.95
    power_factor_noise: float = 0.005
    phase_shares: tuple[float, float, float] = (0.36, 0.33, 0.31)  # of total power
    noise_time_constant_s: float = 300.0  # how fast the noise wanders

    def __post_init__(self) -> None:
        if abs(sum(self.phase_shares) - 1.0) > 1e-9 or min(self.phase_shares) < 0:
            raise ValueError(f"phase_shares must be >= 0 and sum to 1, got {self.phase_shares}")
        if not 0.0 < self.power_factor <= 1.0:
            raise ValueError(f"power_factor must be in (0, 1], got {self.power_factor}")


class EnergyMeter:
    """Three-phase energy meter. Positive power is import, negative export.

    Readings (standard point names in :meth:`readings`): ``active_power_kw``,
    ``energy_import_kwh``, ``energy_export_kwh``, ``energy_total_kwh``
    (import + export, the usual "combined active energy"), per-phase voltage V,
    current A and active power kW, ``power_factor``, ``reactive_power_kvar``,
    ``apparent_power_kva``, ``frequency_hz``.
    """

    __slots__ = (
        "_dev_f",
        "_dev_pf",
        "_dev_v",
        "_rng",
        "active_power_kw",
        "energy_export_kwh",
        "energy_import_kwh",
        "frequency_hz",
        "meter_id",
        "params",
        "power_factor",
        "voltage_v",
    )

    def __init__(
        self,
        meter_id: str,
        params: MeterParams | None = None,
        rng: random.Random | None = None,
        *,
        energy_import_kwh: float = 0.0,
        energy_export_kwh: float = 0.0,
    ) -> None:
        self.meter_id = meter_id
        self.params = p = params if params is not None else MeterParams()
        self._rng = rng
        self._dev_v = [0.0, 0.0, 0.0]
        self._dev_f = 0.0
        self._dev_pf = 0.0
        self.active_power_kw = 0.0
        self.energy_import_kwh = energy_import_kwh
        self.energy_export_kwh = energy_export_kwh
        self.voltage_v = (p.nominal_voltage_v,) * 3
        self.frequency_hz = p.frequency_hz
        self.power_factor = p.power_factor

    @property
    def energy_total_kwh(self) -> float:
        return self.energy_import_kwh + self.energy_export_kwh

    @property
    def energy_net_kwh(self) -> float:
        return self.energy_import_kwh - self.energy_export_kwh

    def step(self, dt_s: float, power_kw: float) -> None:
        """Account ``dt_s`` seconds at a mean power of ``power_kw``."""
        self.active_power_kw = power_kw
        energy = power_kw * dt_s / 3600.0
        if energy >= 0.0:
            self.energy_import_kwh += energy
        else:
            self.energy_export_kwh -= energy
        rng = self._rng
        if rng is None or dt_s <= 0.0:
            return
        # AR(1) wander per quantity: keeps its σ whatever the step size.
        p = self.params
        a = math.exp(-dt_s / p.noise_time_constant_s)
        b = math.sqrt(1.0 - a * a)
        gauss = rng.gauss
        dev_v = self._dev_v
        for i in range(3):
            dev_v[i] = a * dev_v[i] + b * gauss(0.0, p.voltage_noise_v)
        nominal = p.nominal_voltage_v
        self.voltage_v = (nominal + dev_v[0], nominal + dev_v[1], nominal + dev_v[2])
        self._dev_f = a * self._dev_f + b * gauss(0.0, p.frequency_noise_hz)
        self.frequency_hz = p.frequency_hz + self._dev_f
        self._dev_pf = a * self._dev_pf + b * gauss(0.0, p.power_factor_noise)
        self.power_factor = min(p.power_factor + self._dev_pf, 1.0)

    @property
    def phase_power_kw(self) -> tuple[float, float, float]:
        s1, s2, s3 = self.params.phase_shares
        p = self.active_power_kw
        return (p * s1, p * s2, p * s3)

    @property
    def current_a(self) -> tuple[float, float, float]:
        """Phase currents, A: |P_phase| / (V_phase · PF)."""
        pf = self.power_factor
        p1, p2, p3 = self.phase_power_kw
        v1, v2, v3 = self.voltage_v
        return (
            abs(p1) * 1000.0 / (v1 * pf),
            abs(p2) * 1000.0 / (v2 * pf),
            abs(p3) * 1000.0 / (v3 * pf),
        )

    @property
    def apparent_power_kva(self) -> float:
        return abs(self.active_power_kw) / self.power_factor

    @property
    def reactive_power_kvar(self) -> float:
        """Inductive (positive) reactive power implied by the power factor, kvar."""
        s = self.apparent_power_kva
        return math.sqrt(max(s * s - self.active_power_kw**2, 0.0))

    def readings(self) -> dict[str, float]:
        """All readings under the semantic model's point names."""
        v1, v2, v3 = self.voltage_v
        i1, i2, i3 = self.current_a
        p1, p2, p3 = self.phase_power_kw
        return {
            "active_power_kw": self.active_power_kw,
            "reactive_power_kvar": self.reactive_power_kvar,
            "apparent_power_kva": self.apparent_power_kva,
            "power_factor": self.power_factor,
            "frequency_hz": self.frequency_hz,
            "voltage_l1_v": v1,
            "voltage_l2_v": v2,
            "voltage_l3_v": v3,
            "current_l1_a": i1,
            "current_l2_a": i2,
            "current_l3_a": i3,
            "active_power_l1_kw": p1,
            "active_power_l2_kw": p2,
            "active_power_l3_kw": p3,
            "energy_import_kwh": self.energy_import_kwh,
            "energy_export_kwh": self.energy_export_kwh,
            "energy_total_kwh": self.energy_total_kwh,
        }


class WaterMeter:
    """Cold-water meter: ``flow_l_min`` (L/min) and cumulative ``volume_m3`` (m³)."""

    __slots__ = ("flow_l_min", "meter_id", "volume_m3")

    def __init__(self, meter_id: str, *, volume_m3: float = 0.0) -> None:
        self.meter_id = meter_id
        self.flow_l_min = 0.0
        self.volume_m3 = volume_m3

    def step(self, dt_s: float, flow_l_min: float) -> None:
        """Account ``dt_s`` seconds at a mean flow of ``flow_l_min`` (negative is clipped)."""
        flow = max(flow_l_min, 0.0)
        self.flow_l_min = flow
        self.volume_m3 += flow * dt_s / 60_000.0

    def readings(self) -> dict[str, float]:
        return {"flow_l_min": self.flow_l_min, "volume_m3": self.volume_m3}
