"""Comfort has one definition (gateway/energy/comfort.py): the report and the what-if both
count discomfort through ``DiscomfortTally``, over occupied time only, and agree on the same
temperatures."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.core.site import load_site
from gateway.energy import comfort
from gateway.energy.influx import Row
from gateway.energy.kpis import Discomfort, Kpis
from gateway.energy.report import Collector
from tests.sitefiles import DEMO_SITE

DAY = date(2026, 7, 15)  # a Wednesday in the cooling months
#: twelve 5-minute samples from 07:30 local, 1 K above the 26-28 °C band; people from 08:00
SLOTS = 12
FIRST = datetime(2026, 7, 15, 7, 30, tzinfo=load_site(DEMO_SITE).tz)


class Rows:
    """The answer InfluxDB gives to the report's comfort query (5-minute means)."""

    def __init__(self, sensor: bool):
        self.sensor = sensor

    def query(self, q: str) -> list[Row]:
        assert "FROM hvac" in q
        out = []
        for k in range(SLOTS):
            at = FIRST + timedelta(minutes=5 * k)
            fields: dict[str, Any] = {"t": 29.0, "occ": (1.0 if at.hour >= 8 else 0.0)
                                      if self.sensor else None}
            out.append(Row(at.astimezone(UTC), {"device": "ac-r101"}, fields))
        return out


def report_kh(sensor: bool) -> tuple[comfort.DiscomfortTally, str]:
    col = Collector(load_site(DEMO_SITE), Rows(sensor))  # type: ignore[arg-type]
    return col.comfort(DAY, DAY, set(), frozenset(range(5, 11)))


def whatif_kh() -> float:
    occupancy = SimpleNamespace(occupants=4, people_present=0)
    room = SimpleNamespace(occupancy=occupancy, t_air_c=29.0)
    kp = Kpis("rules", DAY)
    d = Discomfort(kp, {"r101": room}, comfort.comfort_band(True))  # type: ignore[dict-item]
    for k in range(SLOTS):
        at = FIRST + timedelta(minutes=5 * k)
        occupancy.people_present = 3 if at.hour >= 8 else 0
        d.stepped(at.hour, 300.0)
    d.finish()
    assert isinstance(d.tally, comfort.DiscomfortTally)
    return kp.discomfort_kh


def test_report_and_whatif_give_the_same_discomfort_for_the_same_temperatures() -> None:
    # occupied 08:00-08:30: six samples × 5 min × 1 K = 0.5 K·h; 07:30-08:00 nobody is there
    by_sensor, source = report_kh(sensor=True)
    assert source == "sensor"
    assert by_sensor.kh == {"r101": pytest.approx(0.5)}
    assert by_sensor.occupied_h == {"r101": pytest.approx(0.5)}
    assert whatif_kh() == pytest.approx(0.5)
    # without a sensor the report takes the schedule of the zone's use (r101: an office,
    # occupied from 07:30 on a working day): 11 samples from 07:35, 11 × 5 min × 1 K
    by_schedule, source = report_kh(sensor=False)
    assert source == "schedule" and by_schedule.kh_per_zone == pytest.approx(11 / 12)


def test_the_scheduled_occupancy_follows_the_zones_use() -> None:
    at = comfort.scheduled_occupied
    assert at("meeting", True, time(10, 0)) and not at("meeting", True, time(12, 30))
    assert at("office", True, time(19, 0)) and not at("office", True, time(7, 0))
    assert not at("meeting", False, time(10, 0))  # no meetings on a day off
    assert at(None, True, time(8, 0)) and not at(None, True, time(18, 0))
    assert not at(None, False, time(10, 0))


def test_both_count_through_the_one_tally(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    add = comfort.DiscomfortTally.add

    def counted(self: comfort.DiscomfortTally, *args: Any, **kwargs: Any) -> None:
        calls.append(True)
        add(self, *args, **kwargs)

    monkeypatch.setattr(comfort.DiscomfortTally, "add", counted)
    report_kh(sensor=True)
    assert len(calls) == SLOTS
    whatif_kh()
    assert len(calls) == 2 * SLOTS


def test_an_empty_room_out_of_the_band_is_no_discomfort() -> None:
    tally = comfort.DiscomfortTally()
    tally.add("z", 35.0, comfort.COOLING_BAND, 1.0, occupied=False)
    tally.add("y", 27.0, comfort.COOLING_BAND, 1.0, occupied=True)
    assert tally.total_kh == 0.0 and tally.kh_per_zone == 0.0 and tally.hours == 1.0


def test_the_winter_band_reaches_22_c_while_the_heating_setpoint_stays_capped_at_20() -> None:
    """GB 50736-2012 table 3.0.2, heating level II: 18–22 °C. A room the afternoon sun has
    warmed to 21.5 °C is comfortable; 22.5 °C is half a kelvin out. The regulation's 20 °C
    heating-setpoint ceiling is another fact and does not move."""
    from gateway.core.policy import HEATING_MODES, SetpointPolicy

    winter = comfort.comfort_band(cooling=False)
    assert winter == (18.0, 22.0)
    assert comfort.outside_band(21.5, winter) == 0.0
    assert comfort.outside_band(22.5, winter) == pytest.approx(0.5)
    assert comfort.outside_band(17.0, winter) == pytest.approx(1.0)
    heat = next(iter(HEATING_MODES))
    assert SetpointPolicy().clamp(None, heat, 22.0) == 20.0
    assert SetpointPolicy().violation(None, heat, 21.0) is not None
