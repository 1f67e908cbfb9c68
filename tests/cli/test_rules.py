"""`escogw rules check | explain | plan`: offline views of a rule set, same engine as live."""

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.control.plan import explain_at, plan_day
from gateway.control.rules import load_rules
from tests.control.ctl_world import DEMO_RULES, DEMO_SITE, ROOT, demo_site

SITE = str(DEMO_SITE)


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", "--config", SITE, "--rules", str(DEMO_RULES)]) == 0
    out = capsys.readouterr().out
    assert "ok — 20 AC units" in out and "exempt zone srv201: server room" in out
    assert main(["rules", "check", "--config", SITE, "--json"]) == 0  # default rules path
    summary = json.loads(capsys.readouterr().out)
    assert summary["groups"]["offices"] == 16 and summary["demand_limit_kw"] == 32


def test_check_reports_file_line_and_exit_2(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("schedules:\n  a:\n    group: offices\n    workday: [{at: '08:00'}]\n")
    assert main(["rules", "check", "--config", SITE, "--rules", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    # the file's shape first; the checks against the site once the shape is right
    assert err == [f"{bad}:4: schedules.a.workday[0]: a step sets at least one of power, "
                   "mode, setpoint_c, fan"]
    bad.write_text("schedules:\n  a:\n    group: offices\n    workday: [{at: '08:00', "
                   "power: on}]\n")
    assert main(["rules", "check", "--config", SITE, "--rules", str(bad)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}:3: schedules.a.group: no group or AC unit 'offices'"]


def test_plan_prints_every_units_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "plan", "--config", SITE, "--date", "2026-07-15",
                 "--outdoor", "35"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2026-07-15: workday")
    assert "ac-r208" in out and "ac-srv201  at 00:00: on, cool, 26 °C" in out
    assert main(["rules", "plan", "--config", SITE, "--date", "2026-06-19", "--json",
                 "--device", "ac-r101"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["day_type"] == "holiday" and plan["commands"] == []


def test_plan_of_a_makeup_saturday() -> None:
    rules = load_rules(DEMO_RULES, demo_site())
    rooms = dict.fromkeys(rules.units, 29.0)
    plan = plan_day(rules, date(2026, 5, 9), devices=["ac-r101", "ac-m101"], room_c=rooms)
    times = [(r.device, r.at.astimezone(rules.tz).strftime("%H:%M"), r.point, r.after)
             for r in plan.rows if r.point == "power"]
    # the night valley's optimal start (from rooms at 29 °C), then the day's schedule
    assert ("ac-r101", "04:00", "power", 1) in times
    assert ("ac-r101", "20:00", "power", 0) in times
    assert ("ac-m101", "07:00", "power", 0) in times
    assert ("ac-m101", "09:00", "power", 1) in times


def test_plan_with_a_room_temperature_shows_when_each_optimal_start_begins(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Without room temperatures a plan gives every optimal start its whole span, so with
    more units than lanes some start at `earliest` and the rest not at all; with `--room`
    the units start as the live gateway would start them from rooms at that temperature,
    within the rule's lanes: 16 offices, 8 lanes of 3.1 h (0.6 h to 27.5 °C at 3 K/h,
    2.5 h of margin) in a 6-hour valley — half at 01:00, half at 03:56."""
    assert main(["rules", "plan", "--config", SITE, "--date", "2026-07-15", "--room", "29.2",
                 "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    starts = {c["device"]: c["at"][11:16] for c in plan["commands"]
              if c["point"] == "power" and c["after"] == 1 and c["rule"] ==
              "start:offices-pre-cool"}
    assert sorted(starts.values()) == ["01:00"] * 8 + ["03:56"] * 8
    assert "room 29.2 °C" in next(c["reason"] for c in plan["commands"]
                                  if c["rule"] == "start:offices-pre-cool")
    # rooms already inside the band by the occupied time need no pre-cool at all
    assert main(["rules", "plan", "--config", SITE, "--date", "2026-07-15", "--room", "27",
                 "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert not [c for c in plan["commands"] if c["rule"].startswith("start:")]
    for bad in ("nan", "inf", "99"):
        assert main(["rules", "plan", "--config", SITE, "--date", "2026-07-15",
                     "--room", bad]) == 2
        assert "--room" in capsys.readouterr().err


def test_plan_of_a_school_vacation_keeps_offices() -> None:
    from gateway.core.site import load_site

    folder = ROOT / "rules" / "examples"
    rules = load_rules(folder / "school.yaml", load_site(folder / "school-site.yaml"))
    plan = plan_day(rules, date(2026, 7, 20))
    devices = {r.device for r in plan.rows if r.point == "power" and r.after == 1}
    assert devices == {"ac-office1", "ac-office2"}  # classrooms closed for the vacation


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "explain", "ac-r101", "--config", SITE, "--at",
                 "2026-07-15T16:30", "--outdoor", "35"]) == 0
    out = capsys.readouterr().out
    assert "ac-r101 at 2026-07-15T16:30+08:00: workday, tariff peak, outdoor 35 °C" in out
    assert "precool:offices-valley" in out and "every layer's say" in out
    rules = load_rules(DEMO_RULES, demo_site())
    info = explain_at(rules, "ac-srv201", datetime(2026, 10, 1, 10, 0, tzinfo=rules.tz))
    assert info["day"]["type"] == "holiday" and info["exempt"]
    assert info["current"]["setpoint_c"] == 26.0
    assert main(["rules", "explain", "ac-x", "--config", SITE]) == 2
