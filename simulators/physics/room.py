"""2R2C thermal model of one room: an air node and a building-mass node.

    C_i·dT_i/dt = (T_m − T_i)/R_im + (T_o − T_i)/R_win + Q_air − Q_ac
    C_m·dT_m/dt = (T_i − T_m)/R_im + (T_o − T_m)/R_wall + Q_mass

The air node (air, furniture, surface layer) reacts within ~20 min; the mass
node (structure) over 1–2 days, which is what makes pre-cooling pay off.

Heat split between the nodes:

- Solar gain through the window (irradiance × window area × SHGC) is mostly
  short-wave radiation absorbed by the floor and walls, so by default 70 % goes
  to the mass node and 30 % to the air node (light furniture, blinds).
- Internal gains (people, equipment, lighting) are about 70 % convective, so
  70 % go to the air node and 30 % (radiative) to the mass node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

REFERENCE_FLOOR_AREA_M2 = 30.0
MAX_SUBSTEP_S = 60.0
# Sub-steps are also kept below this fraction of the fastest time constant:
# explicit Euler is stable below 2·tau and accurate to ~1 % per step at 0.1·tau.
_SUBSTEP_FRACTION_OF_TAU = 0.1


@dataclass(frozen=True, slots=True)
class RoomParams:
    """Thermal parameters; defaults are the research's 30 m² reference office.

    Units: capacities J/K, resistances K/W, areas m², fractions 0..1.
    """

    floor_area_m2: float = REFERENCE_FLOOR_AREA_M2
    c_air_j_k: float = 0.8e6
    c_mass_j_k: float = 5.0e6
    r_air_mass_k_w: float = 0.0015
    # Window conduction + air exchange. The research table's 0.037 K/W (0.5 ach)
    # let an unconditioned summer room reach 41 °C and a winter one stay at
    # 18 °C overnight; 0.015 K/W (~1.5 ach: doors to corridors, windows ajar in
    # an older public building) gives 34–37 °C and 4–7 °C, as such rooms are.
    r_window_k_w: float = 0.015
    r_wall_k_w: float = 0.17  # opaque façade
    window_area_m2: float = 4.0
    # Effective SHGC with curtains or blinds drawn part of the day (glass 0.4–0.6).
    shgc: float = 0.25
    solar_to_air_fraction: float = 0.3
    internal_to_air_fraction: float = 0.7

    def __post_init__(self) -> None:
        positive = {
            "floor_area_m2": self.floor_area_m2,
            "c_air_j_k": self.c_air_j_k,
            "c_mass_j_k": self.c_mass_j_k,
            "r_air_mass_k_w": self.r_air_mass_k_w,
            "r_window_k_w": self.r_window_k_w,
            "r_wall_k_w": self.r_wall_k_w,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"RoomParams.{name} must be > 0, got {value}")
        if self.window_area_m2 < 0:
            raise ValueError(f"RoomParams.window_area_m2 must be >= 0, got {self.window_area_m2}")
        for name in ("shgc", "solar_to_air_fraction", "internal_to_air_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"RoomParams.{name} must be in [0, 1], got {value}")

    @classmethod
    def for_floor_area(cls, floor_area_m2: float, **overrides: float) -> RoomParams:
        """Reference office scaled to another floor area (e.g. a 60 m² meeting room).

        Assumes the same room depth, so façade, window and structure grow with
        the floor area: capacities and window area scale by area/30 m², and
        resistances by 30 m²/area. ``overrides`` replace any field afterwards.
        """
        if not floor_area_m2 > 0:
            raise ValueError(f"floor area must be > 0, got {floor_area_m2}")
        ref = cls()
        k = floor_area_m2 / ref.floor_area_m2
        scaled = replace(
            ref,
            floor_area_m2=floor_area_m2,
            c_air_j_k=ref.c_air_j_k * k,
            c_mass_j_k=ref.c_mass_j_k * k,
            r_air_mass_k_w=ref.r_air_mass_k_w / k,
            r_window_k_w=ref.r_window_k_w / k,
            r_wall_k_w=ref.r_wall_k_w / k,
            window_area_m2=ref.window_area_m2 * k,
        )
        return replace(scaled, **overrides) if overrides else scaled

    def time_constants_s(self) -> tuple[float, float]:
        """(fast, slow) time constants of the free-floating room, seconds."""
        g_im = 1.0 / self.r_air_mass_k_w
        a11 = -(g_im + 1.0 / self.r_window_k_w) / self.c_air_j_k
        a22 = -(g_im + 1.0 / self.r_wall_k_w) / self.c_mass_j_k
        a12 = g_im / self.c_air_j_k
        a21 = g_im / self.c_mass_j_k
        trace = a11 + a22
        det = a11 * a22 - a12 * a21
        root = math.sqrt(max(trace * trace / 4.0 - det, 0.0))
        fast, slow = trace / 2.0 - root, trace / 2.0 + root  # both negative
        return -1.0 / fast, -1.0 / slow


@dataclass(slots=True)
class RoomState:
    """Node temperatures, °C."""

    t_air_c: float
    t_mass_c: float


class Room:
    """A room's parameters, state and the step function."""

    __slots__ = (
        "_g_im",
        "_g_wall",
        "_g_win",
        "_int_air",
        "_inv_ca",
        "_inv_cm",
        "_max_substep_s",
        "_sol_air",
        "_sol_mass",
        "params",
        "state",
    )

    def __init__(self, params: RoomParams, state: RoomState) -> None:
        self.params = params
        self.state = state
        self._g_im = 1.0 / params.r_air_mass_k_w
        self._g_win = 1.0 / params.r_window_k_w
        self._g_wall = 1.0 / params.r_wall_k_w
        self._inv_ca = 1.0 / params.c_air_j_k
        self._inv_cm = 1.0 / params.c_mass_j_k
        solar_gain_m2 = params.window_area_m2 * params.shgc
        self._sol_air = solar_gain_m2 * params.solar_to_air_fraction
        self._sol_mass = solar_gain_m2 - self._sol_air
        self._int_air = params.internal_to_air_fraction
        fast_tau, _ = params.time_constants_s()
        self._max_substep_s = min(MAX_SUBSTEP_S, _SUBSTEP_FRACTION_OF_TAU * fast_tau)

    @property
    def max_substep_s(self) -> float:
        return self._max_substep_s

    def step(
        self,
        dt_s: float,
        outdoor_temp_c: float,
        solar_w_m2: float,
        internal_gains_w: float,
        ac_heat_extraction_w: float,
        ventilation_w_k: float = 0.0,
    ) -> None:
        """Advance ``dt_s`` seconds with the inputs held constant.

        ``solar_w_m2`` is the irradiance on the window façade; ``internal_gains_w``
        the heat from people, equipment and lighting; ``ac_heat_extraction_w``
        the heat the AC removes from the air (negative when heating);
        ``ventilation_w_k`` outdoor air brought in on top of the fixed air exchange.
        """
        if dt_s <= 0.0:
            return
        max_h = self._max_substep_s
        if ventilation_w_k > 0.0:  # a faster air node: keep the sub-step stable
            max_h = min(max_h, _SUBSTEP_FRACTION_OF_TAU / (
                (self._g_im + self._g_win + ventilation_w_k) * self._inv_ca))
        n = 1 if dt_s <= max_h else math.ceil(dt_s / max_h)
        h = dt_s / n
        int_air = internal_gains_w * self._int_air
        q_air = int_air + solar_w_m2 * self._sol_air - ac_heat_extraction_w
        q_mass = internal_gains_w - int_air + solar_w_m2 * self._sol_mass
        g_im, g_win, g_wall = self._g_im, self._g_win + ventilation_w_k, self._g_wall
        ka, km = h * self._inv_ca, h * self._inv_cm
        state = self.state
        ti, tm, to = state.t_air_c, state.t_mass_c, outdoor_temp_c
        for _ in range(n):
            flow_mass_to_air = (tm - ti) * g_im
            ti, tm = (
                ti + (flow_mass_to_air + (to - ti) * g_win + q_air) * ka,
                tm + ((to - tm) * g_wall + q_mass - flow_mass_to_air) * km,
            )
        state.t_air_c = ti
        state.t_mass_c = tm
