"""Rule files: every kind of mistake is reported as file:line: field: message, all at once;
the shipped rule files load."""

from pathlib import Path

import pytest

from gateway.control.rules import load_rules
from gateway.core.site import load_site
from gateway.core.sourcefile import ConfigError
from tests.control.ctl_world import DEMO_RULES, ROOT, demo_site, rules_from

CASES = ROOT / "tests" / "cases" / "rules"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()), ids=str)
def test_rules_case(case: str) -> None:
    folder = CASES / case
    expected = (folder / "expected.err").read_text().strip()
    with pytest.raises(ConfigError) as err:
        load_rules(folder / "rules.yaml", demo_site())
    assert str(err.value).replace(f"{folder}/", "") == expected


def test_demo_rules_load() -> None:
    rules = load_rules(DEMO_RULES, demo_site())
    assert len(rules.units) == 20
    assert rules.groups["offices"] == frozenset(u for u in rules.units if u.startswith("ac-r"))
    assert rules.units["ac-srv201"].exempt is not None
    assert rules.units["ac-r101"].exempt is None
    assert rules.demand is not None and rules.demand.classes["ac-m101"] == 1
    assert "ac-srv201" not in rules.demand.classes  # never shed
    assert rules.tariff is not None and rules.tariff.id == "hubei-general-ic"
    # the MQTT command path gets the same limits
    policy = rules.setpoint_policy()
    assert policy.violation("r101", 0, 25.0) is not None
    assert policy.violation("srv201", 0, 22.0) is None


@pytest.mark.parametrize("name", ["hospital", "school"])
def test_example_rules_load(name: str) -> None:
    folder = ROOT / "rules" / "examples"
    site = load_site(folder / f"{name}-site.yaml")
    rules = load_rules(folder / f"{name}.yaml", site)
    assert rules.units
    if name == "hospital":
        wards = rules.groups["wards"]
        assert all(rules.units[u].exempt for u in wards)
        assert rules.demand is not None and not wards & set(rules.demand.classes)


def test_unquoted_times_are_read_as_clock_times(tmp_path: Path) -> None:
    # YAML 1.1 turns 18:00 into the base-60 number 1080; that is still 18:00.
    rules = rules_from(tmp_path, """
        schedules:
          offices:
            group: all
            except: [ac-srv201]
            workday:
              - {at: 8:00, power: on}
              - {at: 18:00, power: off}
    """)
    (sched,) = rules.slot_rules
    assert [e.hhmm for e in next(iter(sched.days.values()))] == ["08:00", "18:00"]


def test_on_off_words_in_yaml(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, """
        schedules:
          s:
            group: ac-r101
            workday:
              - {at: "08:00", power: on}
              - {at: "09:00", power: "off"}
    """)
    entries = next(iter(rules.slot_rules[0].days.values()))
    assert [e.values[0] for e in entries] == [1, 0]


def test_exempt_zone_may_go_below_the_floor(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, """
        policy:
          exemptions: [{zone: srv201, reason: "server room: IT equipment"}]
        schedules:
          server:
            group: ac-srv201
            hold: always
            every_day: [{at: "00:00", power: on, mode: cool, setpoint_c: 22}]
    """)
    assert rules.units["ac-srv201"].exempt == "server room: IT equipment"


def test_same_scope_and_priority_with_compatible_modes_is_allowed(tmp_path: Path) -> None:
    # resolved by the energy-conservative value: no load-time error
    rules_from(tmp_path, """
        groups:
          a: {match: {use: office}}
          b: {match: {use: office}}
        schedules:
          one:
            group: a
            workday: [{at: "08:00", power: on, mode: cool, setpoint_c: 26}]
          two:
            group: b
            workday: [{at: "08:00", power: on, mode: cool, setpoint_c: 27}]
    """)


def test_different_priority_resolves_an_overlap(tmp_path: Path) -> None:
    rules_from(tmp_path, """
        groups:
          a: {match: {use: office}}
          b: {match: {use: office}}
        schedules:
          one:
            group: a
            workday: [{at: "08:00", power: on, mode: cool, setpoint_c: 26}]
          two:
            group: b
            priority: 5
            workday: [{at: "08:00", power: on, mode: heat, setpoint_c: 20}]
    """)


def test_all_problems_of_a_file_come_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        rules_from(tmp_path, """
            groups:
              offices: {match: {use: office}}
            schedules:
              a:
                group: offices
                workday: [{at: "08:00", power: on, mode: cool, setpoint_c: 24}]
              b:
                group: ofices
                workday: [{at: "08:00", power: on}]
            demand:
              meter: main-meter
              limit_kw: 30
              shed: [{group: meeting, class: 1}]
        """)
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{tmp_path}/rules.yaml:") for line in lines)
