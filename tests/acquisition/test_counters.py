"""Energy and volume counters: a wrap-around and a reset (meter replaced) are told apart
and flagged on the reading, driven through the simulated meter's registers."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.acquisition.reading import Reading
from tests.acqsim import Rig, meter, write_site


@pytest.mark.parametrize("transport", ["tcp", "rtu-over-tcp"])
async def test_counter_wrap_and_reset_are_flagged(tmp_path: Path, transport: str) -> None:
    link = {"transport": transport, "timeout_s": 0.3, "baudrate": 115200}
    if transport == "tcp":
        del link["baudrate"]
    # ADL400 energies are u32 × 0.1 kWh: they roll over at 429 496 729.6 kWh
    path = write_site(tmp_path, {"bus": link}, {
        "adl": meter(1, "acrel-adl400", interval=0.05, turnaround_ms=1,
                     points=["energy_import_kwh", "active_power_kw"]),
        "sdm": meter(2, "eastron-sdm630", interval=0.05, turnaround_ms=1, role="ac",
                     points=["energy_import_kwh", "active_power_kw"])})
    async with Rig(path) as rig:
        rig.start()

        async def show(device: str, kwh: float) -> Reading:
            rig.memory(device).set(device, "energy_import_kwh", kwh)
            return await rig.reading(device, lambda r: r.values.get(
                "energy_import_kwh") == pytest.approx(kwh, abs=0.05))

        assert (await show("adl", 429_496_700.0)).flags == {}
        wrapped = await show("adl", 12.3)
        assert wrapped.flags == {"energy_import_kwh": "wrap"}
        assert (await show("adl", 20.0)).flags == {}  # an ordinary step again
        assert (await show("adl", 5000.0)).flags == {}
        replaced = await show("adl", 1.5)  # far from the top: the meter was replaced
        assert replaced.flags == {"energy_import_kwh": "reset"}
        assert replaced.values["energy_import_kwh"] == pytest.approx(1.5)  # never hidden

        # a float32 counter cannot wrap: any decrease is a reset
        assert (await show("sdm", 812.25)).flags == {}
        assert (await show("sdm", 0.5)).flags == {"energy_import_kwh": "reset"}
        assert all(not r.failed for dev in ("adl", "sdm") for r in rig.readings[dev])


def test_a_bcd_counter_rolls_over_after_its_last_nines() -> None:
    from gateway.acquisition.counters import counter_span, counter_step
    from gateway.core.profile import ProfileLibrary

    library = ProfileLibrary()
    energy = library.get("generic-dlt645-2007").points["energy_import_kwh"]  # XXXXXX.XX
    volume = library.get("generic-cjt188-water").points["volume_m3"]
    assert counter_span(energy) == counter_span(volume) == 1_000_000.0
    step = counter_step(999_999.5, 0.25, counter_span(energy))
    assert step.flag == "wrap" and step.delta == pytest.approx(0.75)


def test_a_heat_meter_rolls_over_in_the_unit_it_counts_in() -> None:
    """A heat meter counting in GJ or MWh rolls over at 999999.99 of its unit, far past
    the kWh span: a wrap there, with the small delta across it; a decrease from
    anywhere else is a reset, never a 'wrap' with a negative delta."""
    from gateway.acquisition.counters import CounterWatch, counter_spans, counter_step
    from gateway.core.profile import ProfileLibrary

    heat = ProfileLibrary().get("generic-cjt188-heat").points["heat_energy_kwh"]
    kwh_per_gj = 1e3 / 3.6
    spans = counter_spans(heat)
    assert spans == pytest.approx((1e6, 1e9, 1e6 * kwh_per_gj))
    gj = counter_step(999_999.5 * kwh_per_gj, 0.5 * kwh_per_gj, spans)  # GJ: 999999.5 → 0.5
    assert gj.flag == "wrap" and gj.delta == pytest.approx(kwh_per_gj)
    mwh = counter_step(999_999.99e3, 20.0, spans)  # MWh: 999999.99 → 0.02
    assert mwh.flag == "wrap" and mwh.delta == pytest.approx(30.0)
    step = counter_step(8e5 * kwh_per_gj, 10.0, spans)  # 800000 GJ, then a new meter
    assert step.flag == "reset" and step.delta == 10.0
    watch = CounterWatch()
    assert watch.check("hm", heat, 999_999.5 * kwh_per_gj) is None
    assert watch.check("hm", heat, 0.5 * kwh_per_gj) == "wrap"
    # the float32 counter of a Modbus meter has no span: any decrease is a reset
    sdm = ProfileLibrary().get("eastron-sdm630").points["energy_import_kwh"]
    assert counter_spans(sdm) == ()
