"""Split air-conditioner indoor/outdoor pair: commands in, heat and power out.

Two kinds share one model:

- ``fixed``: the compressor is on at full capacity or off; a thermostat with a
  ±deadband around the setpoint cycles it.
- ``inverter``: a PI controller modulates the part-load ratio (PLR) between
  ``min_plr`` and 1; below ``min_plr`` it cycles like a fixed unit.

Electrical power with the compressor running is
``P = Q_full / COP(T_o) · PLR / COP_ratio(PLR)``, where ``Q_full`` is the rated
capacity scaled by the fan speed. A fixed unit runs at PLR 1. An inverter is
most efficient at part load (why its seasonal APF exceeds its rated EER, GB
21455-2019): :func:`inverter_cop_ratio` follows the variable-speed mini-split
model of NREL's BEopt/ResStock (10 speeds over 40–120 % of nominal capacity,
normalised COP 1.901 at the lowest speed down to 1.0 at the highest),
rescaled to 1.0 at the rated capacity: 1.62× at 40 % load, 1.37× at 67 %.
The rated EER/COP counts compressor and fans. COP falls with outdoor
temperature, see :func:`cooling_cop` and :func:`heating_cop`. When the thermostat is satisfied
the indoor fan keeps running (fan-only draw); switched off, the unit draws
standby power. Like real units, a stopped compressor does not restart within
``restart_delay_s`` (anti-short-cycle protection).

``dry`` runs the compressor at low fan: half of the heat it removes is taken
as sensible cooling, the rest is latent (moisture, not modelled).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    FIXED = "fixed"
    INVERTER = "inverter"


class AcMode(StrEnum):
    COOL = "cool"
    HEAT = "heat"
    FAN = "fan"
    DRY = "dry"
    AUTO = "auto"


class FanSpeed(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    AUTO = "auto"


FAN_CAPACITY_FACTOR: dict[FanSpeed, float] = {
    FanSpeed.LOW: 0.7,
    FanSpeed.MEDIUM: 0.85,
    FanSpeed.HIGH: 1.0,
}

# Rated (EER cooling, COP heating) when not given: older fixed-speed stock vs inverter units.
_DEFAULT_EFFICIENCY: dict[UnitKind, tuple[float, float]] = {
    UnitKind.FIXED: (3.0, 3.2),
    UnitKind.INVERTER: (3.5, 3.7),
}


def _clip(x: float, low: float, high: float) -> float:
    return low if x < low else high if x > high else x


# NREL BEopt/ResStock mini-split heat pump (ResidentialHVACMiniSplitHeatPump measure,
# hvac.rb ``cops_Norm`` with min/max cooling capacity 0.4/1.2): capacity fraction of
# nominal at each of the 10 speeds, and the COP there relative to the top speed.
_SPEED_CAPACITY = tuple(0.4 + i * 0.8 / 9 for i in range(10))
_SPEED_COP_NORM = (1.901, 1.859, 1.746, 1.609, 1.474, 1.353, 1.247, 1.156, 1.079, 1.0)


def _cop_norm_at(capacity: float) -> float:
    """Piecewise-linear in the table; flat outside 40–120 %."""
    caps, cops = _SPEED_CAPACITY, _SPEED_COP_NORM
    if capacity <= caps[0]:
        return cops[0]
    if capacity >= caps[-1]:
        return cops[-1]
    i = bisect_right(caps, capacity)
    c0, c1 = caps[i - 1], caps[i]
    return cops[i - 1] + (cops[i] - cops[i - 1]) * (capacity - c0) / (c1 - c0)


_COP_NORM_AT_RATED = _cop_norm_at(1.0)


def inverter_cop_ratio(plr: float) -> float:
    """An inverter's COP at part-load ratio ``plr`` over its COP at rated capacity."""
    return _cop_norm_at(plr) / _COP_NORM_AT_RATED


def cooling_cop(rated_eer: float, outdoor_temp_c: float) -> float:
    """Cooling COP: −2.5 %/K above 35 °C (+2.5 %/K below), within [0.5, 1.4]× rated."""
    return rated_eer * _clip(1.0 - 0.025 * (outdoor_temp_c - 35.0), 0.5, 1.4)


def heating_cop(rated_cop: float, outdoor_temp_c: float) -> float:
    """Heating COP: −2.5 %/K below 7 °C (+2.5 %/K above), within [0.5, 1.4]× rated."""
    return rated_cop * _clip(1.0 + 0.025 * (outdoor_temp_c - 7.0), 0.5, 1.4)


@dataclass(frozen=True, slots=True)
class AcUnitParams:
    """Nameplate and control parameters. Units: kW, W, K, °C, s."""

    kind: UnitKind = UnitKind.INVERTER
    rated_cooling_kw: float = 3.5
    rated_heating_kw: float = 4.2
    rated_eer: float | None = None  # None: 3.0 fixed / 3.5 inverter
    rated_cop: float | None = None  # None: 3.2 fixed / 3.7 inverter
    standby_w: float = 3.0
    fan_only_w: float = 40.0
    deadband_k: float = 0.5
    min_plr: float = 0.3
    restart_delay_s: float = 180.0
    setpoint_min_c: float = 16.0
    setpoint_max_c: float = 30.0
    auto_changeover_k: float = 1.5  # 'auto' switches cool<->heat beyond setpoint ± this
    sensor_noise_k: float = 0.0  # σ of the unit's room-temperature sensor
    dry_sensible_fraction: float = 0.5
    kp_per_k: float = 0.5  # inverter PI: PLR per K of error ...
    integral_time_s: float = 600.0  # ... and integral time

    def __post_init__(self) -> None:
        if self.rated_cooling_kw <= 0 or self.rated_heating_kw < 0:
            raise ValueError("rated capacities must be positive")
        for name in ("rated_eer", "rated_cop"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"AcUnitParams.{name} must be > 0, got {value}")
        if not 0.0 < self.min_plr <= 1.0:
            raise ValueError(f"min_plr must be in (0, 1], got {self.min_plr}")
        if self.setpoint_min_c > self.setpoint_max_c:
            raise ValueError("setpoint_min_c must not exceed setpoint_max_c")

    @property
    def eer(self) -> float:
        return self.rated_eer if self.rated_eer is not None else _DEFAULT_EFFICIENCY[self.kind][0]

    @property
    def cop(self) -> float:
        return self.rated_cop if self.rated_cop is not None else _DEFAULT_EFFICIENCY[self.kind][1]


class AcUnit:
    """One AC unit. Write ``power``, ``mode``, ``setpoint_c``, ``fan`` at any time;
    read the outputs after :meth:`step`.

    Outputs: ``room_temp_c`` (sensed, °C), ``power_kw`` (electrical, kW),
    ``heat_extraction_w`` (W, positive when cooling, negative when heating),
    ``compressor_on``, ``compressor_starts`` (count), ``plr`` (0..1),
    ``effective_mode`` (what 'auto' resolved to; None when off),
    ``energy_kwh`` and ``compressor_runtime_s``.
    """

    __slots__ = (
        "_auto_mode",
        "_cool_w",
        "_cop_heat",
        "_eer_cool",
        "_fan",
        "_heat_w",
        "_integral",
        "_inverter",
        "_ki",
        "_mode",
        "_off_s",
        "_rng",
        "_running_heating",
        "_setpoint_c",
        "compressor_on",
        "compressor_runtime_s",
        "compressor_starts",
        "effective_mode",
        "energy_kwh",
        "heat_extraction_w",
        "params",
        "plr",
        "power",
        "power_kw",
        "room_temp_c",
        "unit_id",
    )

    def __init__(
        self,
        unit_id: str,
        params: AcUnitParams | None = None,
        rng: random.Random | None = None,
        *,
        power: bool = False,
        mode: AcMode | str = AcMode.COOL,
        setpoint_c: float = 26.0,
        fan: FanSpeed | str = FanSpeed.AUTO,
        room_temp_c: float = 25.0,
    ) -> None:
        p = params if params is not None else AcUnitParams()
        self.unit_id = unit_id
        self.params = p
        self._rng = rng
        self._inverter = p.kind is UnitKind.INVERTER
        self._cool_w = p.rated_cooling_kw * 1000.0
        self._heat_w = p.rated_heating_kw * 1000.0
        self._eer_cool = p.eer
        self._cop_heat = p.cop
        self._ki = p.kp_per_k / p.integral_time_s
        # commanded state
        self.power = power
        self._mode = AcMode(mode)
        self._fan = FanSpeed(fan)
        self._setpoint_c = 26.0
        self.setpoint_c = setpoint_c
        # internal state
        self._auto_mode: AcMode | None = None
        self._integral = 0.0
        self._off_s = p.restart_delay_s  # a fresh unit may start at once
        self._running_heating = False
        # outputs
        self.room_temp_c = room_temp_c
        self.power_kw = p.standby_w / 1000.0 if not power else p.fan_only_w / 1000.0
        self.heat_extraction_w = 0.0
        self.compressor_on = False
        self.compressor_starts = 0
        self.compressor_runtime_s = 0.0
        self.plr = 0.0
        self.effective_mode: AcMode | None = None
        self.energy_kwh = 0.0

    @property
    def mode(self) -> AcMode:
        return self._mode

    @mode.setter
    def mode(self, value: AcMode | str) -> None:
        self._mode = AcMode(value)

    @property
    def fan(self) -> FanSpeed:
        return self._fan

    @fan.setter
    def fan(self, value: FanSpeed | str) -> None:
        self._fan = FanSpeed(value)

    @property
    def setpoint_c(self) -> float:
        return self._setpoint_c

    @setpoint_c.setter
    def setpoint_c(self, value: float) -> None:
        """Clamped to the unit's own range, as the hardware does."""
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"setpoint must be a finite number, got {value}")
        self._setpoint_c = _clip(value, self.params.setpoint_min_c, self.params.setpoint_max_c)

    def command(
        self,
        *,
        power: bool | None = None,
        mode: AcMode | str | None = None,
        setpoint_c: float | None = None,
        fan: FanSpeed | str | None = None,
    ) -> None:
        """Apply any subset of commands; strings are the enum values ('cool', 'low' …)."""
        if power is not None:
            self.power = power
        if mode is not None:
            self.mode = mode
        if setpoint_c is not None:
            self.setpoint_c = setpoint_c
        if fan is not None:
            self.fan = fan

    def step(self, dt_s: float, room_temp_c: float, outdoor_temp_c: float) -> None:
        """Decide the output for the next ``dt_s`` seconds from the room air temperature."""
        p = self.params
        if self._rng is not None and p.sensor_noise_k > 0.0:
            room_temp_c += self._rng.gauss(0.0, p.sensor_noise_k)
        self.room_temp_c = room_temp_c
        if not self.compressor_on:
            self._off_s += dt_s

        heat_w = 0.0
        if not self.power:
            self.effective_mode = None
            self._auto_mode = None
            self._stop()
            power_w = p.standby_w
        else:
            mode = self._resolve_mode(room_temp_c)
            self.effective_mode = mode
            if mode is AcMode.FAN:
                self._stop()
                power_w = p.fan_only_w
            else:
                heating = mode is AcMode.HEAT
                if self.compressor_on and heating != self._running_heating:
                    self._stop()  # reversing the cycle: stop, then obey the restart delay
                error = (
                    self._setpoint_c - room_temp_c if heating else room_temp_c - self._setpoint_c
                )
                plr = self._control(error, dt_s)
                if plr > 0.0:
                    self._running_heating = heating
                    if mode is AcMode.DRY:
                        full_w = self._cool_w * FAN_CAPACITY_FACTOR[FanSpeed.LOW]
                        heat_w = full_w * plr * p.dry_sensible_fraction
                        cop = cooling_cop(self._eer_cool, outdoor_temp_c)
                    else:
                        fan = self._fan
                        if fan is FanSpeed.AUTO:
                            fan = FanSpeed.HIGH if error > 1.0 else FanSpeed.MEDIUM
                        if heating:
                            full_w = self._heat_w * FAN_CAPACITY_FACTOR[fan]
                            heat_w = -full_w * plr
                            cop = heating_cop(self._cop_heat, outdoor_temp_c)
                        else:
                            full_w = self._cool_w * FAN_CAPACITY_FACTOR[fan]
                            heat_w = full_w * plr
                            cop = cooling_cop(self._eer_cool, outdoor_temp_c)
                    if self._inverter:
                        cop *= inverter_cop_ratio(plr)
                    power_w = full_w * plr / cop
                    self.compressor_runtime_s += dt_s
                else:
                    power_w = p.fan_only_w

        self.heat_extraction_w = heat_w
        self.power_kw = power_w / 1000.0
        self.energy_kwh += power_w * dt_s / 3.6e6

    def _resolve_mode(self, room_temp_c: float) -> AcMode:
        if self._mode is not AcMode.AUTO:
            self._auto_mode = None
            return self._mode
        band = self.params.auto_changeover_k
        current = self._auto_mode
        if current is None:
            current = AcMode.COOL if room_temp_c >= self._setpoint_c else AcMode.HEAT
        elif current is AcMode.COOL and room_temp_c < self._setpoint_c - band:
            current = AcMode.HEAT
        elif current is AcMode.HEAT and room_temp_c > self._setpoint_c + band:
            current = AcMode.COOL
        self._auto_mode = current
        return current

    def _control(self, error: float, dt_s: float) -> float:
        """Compressor PLR for this step (0 = off); ``error`` > 0 means more capacity is wanted."""
        p = self.params
        if self.compressor_on:
            if error < -p.deadband_k:
                self._stop()
                return 0.0
        elif error > p.deadband_k and self._off_s >= p.restart_delay_s:
            self.compressor_on = True
            self.compressor_starts += 1
            self._integral = p.min_plr
        else:
            return 0.0
        if not self._inverter:
            self.plr = 1.0
            return 1.0
        integral = self._integral + self._ki * error * dt_s
        integral = _clip(integral, 0.0, 1.0)
        self._integral = integral
        plr = _clip(p.kp_per_k * error + integral, p.min_plr, 1.0)
        self.plr = plr
        return plr

    def _stop(self) -> None:
        if self.compressor_on:
            self.compressor_on = False
            self._off_s = 0.0
        self._integral = 0.0
        self.plr = 0.0
