"""Where a counter rolls over, exactly: the span comes from the profile's register type, not
from a test that supplies it by hand (issue 20: ``top * scale`` instead of ``(top + 1) * scale``
survived every test, the span being compared with a default relative tolerance of ±430 kWh)."""

from __future__ import annotations

import pytest

from gateway.acquisition.counters import CounterWatch, counter_span, counter_step
from gateway.core.profile import ProfileLibrary

LIB = ProfileLibrary()


def test_a_u32_kwh_register_rolls_over_at_two_to_the_32_tenths() -> None:
    """Mutant: ``return top * scale`` — the span would be 0.1 kWh short."""
    point = LIB.get("acrel-adl400").points["energy_import_kwh"]  # u32 × 0.1 kWh
    assert point.dtype == "u32" and point.scale == pytest.approx(0.1)
    assert counter_span(point) == pytest.approx(429_496_729.6, rel=0, abs=1e-6)


def test_a_wrap_from_the_last_count_to_zero_is_one_count() -> None:
    """The register's last value (0xFFFFFFFF × 0.1) followed by 0 is one count (0.1 kWh) of
    energy; with ``top * scale`` as the span it would be none."""
    point = LIB.get("acrel-adl400").points["energy_import_kwh"]
    span = counter_span(point)
    step = counter_step(0xFFFF_FFFF * 0.1, 0.0, span)
    assert step.flag == "wrap"
    assert step.delta == pytest.approx(0.1, rel=0, abs=1e-6)


def test_floats_do_not_wrap() -> None:
    point = LIB.get("eastron-sdm630").points["energy_import_kwh"]
    assert counter_span(point) is None
    assert counter_step(812.25, 0.5, None).flag == "reset"


def test_the_watch_flags_per_device_and_point() -> None:
    """CounterWatch remembers each (device, point) apart and flags only a step down."""
    adl = LIB.get("acrel-adl400").points["energy_import_kwh"]
    sdm = LIB.get("eastron-sdm630").points["energy_import_kwh"]
    watch = CounterWatch()
    assert watch.check("a", adl, 429_496_700.0) is None  # the first value only anchors
    assert watch.check("b", adl, 5.0) is None  # another device: its own anchor
    assert watch.check("a", adl, 12.3) == "wrap"
    assert watch.check("a", adl, 12.3) is None  # unchanged is no step
    assert watch.check("b", adl, 4.0) == "reset"
    assert watch.check("c", sdm, 4_000_000_000.0) is None
    assert watch.check("c", sdm, 0.5) == "reset"  # a float counter never wraps


def test_a_wrap_needs_the_top_tenth_then_the_bottom_tenth() -> None:
    span = 1000.0
    assert counter_step(950.0, 50.0, span).flag == "wrap"
    assert counter_step(900.0, 50.0, span).flag == "reset"  # not above 0.9 × span
    assert counter_step(950.0, 100.0, span).flag == "reset"  # not below 0.1 × span
    assert counter_step(950.0, 500.0, span).flag == "reset"
