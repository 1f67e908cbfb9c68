"""The comfort band the report and the what-if simulation judge room temperatures against:
26–28 °C in the cooling months, 18–20 °C otherwise; discomfort is the distance outside it
(BOPTEST's ``tdis`` integrates it over occupied time, in K·h)."""

from __future__ import annotations

Band = tuple[float, float]

COOLING_BAND: Band = (26.0, 28.0)
HEATING_BAND: Band = (18.0, 20.0)
#: how the report describes the band
BAND_TEXT = (f"{COOLING_BAND[0]:g}–{COOLING_BAND[1]:g} °C in the cooling months, "
             f"{HEATING_BAND[0]:g}–{HEATING_BAND[1]:g} °C otherwise")


def comfort_band(cooling: bool) -> Band:
    """The band of a cooling month, or of any other month."""
    return COOLING_BAND if cooling else HEATING_BAND


def outside_band(temp_c: float, band: Band) -> float:
    """How far (K) a temperature lies outside the band; 0 inside it."""
    lo, hi = band
    return lo - temp_c if temp_c < lo else temp_c - hi if temp_c > hi else 0.0
