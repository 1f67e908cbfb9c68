"""The day-off study's rule-file variant (devkit/days_off_bound.py): only the rooms the
simulation brings people into are booked, and only booked rooms get the day-off plan."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from devkit import days_off_bound
from gateway.control.rules import load_rules
from gateway.core.calendar import DayType
from gateway.core.site import load_site
from simulators.physics.occupancy import DayKind
from simulators.sim_config import load_simulation
from simulators.site_physics import build_building
from tests.sitefiles import DEMO_SITE, ROOT

RULES = ROOT / "rules" / "demo-office.yaml"
SUNDAY = date(2027, 1, 10)


def test_the_variant_books_the_comers_rooms_and_gives_only_them_the_set_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "booked.yaml"
    assert days_off_bound.main([
        "--site", str(DEMO_SITE), "--rules", str(RULES), "--from", "2027-01-08",
        "--to", "2027-01-10", "--set-back", "offices-weekend-set-back",
        "--schedule", "offices-heating", "--on-at", "09:00", "--out", str(out)]) == 0
    assert "bookings on 2 days off" in capsys.readouterr().out  # Friday is a workday
    site = load_site(DEMO_SITE)
    rules = load_rules(out, site)  # a valid rule file
    rooms = build_building(load_simulation(site)).rooms
    coming = {uid for uid, u in rules.units.items()
              if u.zone in rooms and rooms[u.zone].occupancy.comes_in(SUNDAY.toordinal(),
                                                                      DayKind.OFF_DAY)}
    offices = [uid for uid, u in rules.units.items() if u.tags.get("use") == "office"]
    assert 0 < len(coming) < len(offices)  # not every office: one occupant in ten comes in
    for uid, unit in rules.units.items():
        kind = rules.calendar.day(SUNDAY, unit.cal_groups).type
        assert kind is (DayType.CLOSURE if uid in coming else DayType.WEEKEND), uid
    set_back = next(r for r in rules.optimal_start if r.name == "offices-weekend-set-back")
    assert set_back.day_types == frozenset({DayType.CLOSURE})


def test_an_unknown_rule_name_is_refused_with_the_file() -> None:
    with pytest.raises(SystemExit, match=r"demo-office\.yaml: no schedule 'offices-heat'"):
        days_off_bound.main([
            "--site", str(DEMO_SITE), "--rules", str(RULES), "--from", "2027-01-09",
            "--to", "2027-01-10", "--schedule", "offices-heat", "--out", "/dev/null"])


def test_a_range_with_the_rule_files_own_closure_is_refused() -> None:
    """The study books with closures: the demo's August inspection closure would be read as
    a booking of every room."""
    with pytest.raises(SystemExit, match=r"its closure 2026-08-10\.\.2026-08-11 falls in"):
        days_off_bound.main([
            "--site", str(DEMO_SITE), "--rules", str(RULES), "--from", "2026-08-01",
            "--to", "2026-08-31", "--out", "/dev/null"])
