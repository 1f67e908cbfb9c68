"""Each precedence layer alone: a pure function of a proposal, the unit, its state and the
tick's context — no engine, no readings, no clock. Tables of proposals in, decisions out."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from gateway.control import layers
from gateway.control.layers import (
    demand_limit,
    equipment_protection,
    off_unit,
    offsets,
    regulatory_clamps,
    safety,
)
from gateway.control.overrides import Override
from gateway.control.rules import load_rules
from gateway.control.ruleset import (
    CLAMP,
    DEMAND,
    FAN,
    LAYER_NAMES,
    MODE,
    OVERRIDE,
    POWER,
    PROTECTION,
    SAFETY,
    SCHEDULE,
    SETPOINT,
    TARIFF,
    RuleSet,
)
from gateway.control.state import Ctx, Proposal, UnitState, Value
from gateway.core.semantics import FAN_CODES, MODE_CODES
from tests.control.ctl_world import DEMO_RULES, ROOT, at, demo_site

COOL, HEAT, DRY, AUTO = (MODE_CODES[m] for m in ("cool", "heat", "dry", "auto"))
JULY = "2026-07-15"
JANUARY = "2026-01-14"


@cache
def demo_rules() -> RuleSet:
    """The demo rule file: floor 26 °C, ceiling 20 °C, relief 1 K then 2 K, min on/off 300 s."""
    return load_rules(DEMO_RULES, demo_site())


def ctx_at(day: str, hhmm: str, levels: dict[str, int] | None = None) -> Ctx:
    return Ctx(at(day, hhmm), demo_rules(), 33.0, levels=levels)


def proposal(current: list[Value | None], **asked: Value) -> Proposal:
    """A proposal as a lower layer (an override, here) left it: ``asked`` point → value."""
    out = Proposal(list(current), trace=[])
    for name, value in asked.items():
        point = {"power": POWER, "mode": MODE, "setpoint": SETPOINT, "fan": FAN}[name]
        out.say(OVERRIDE, "override:t", point, value, "asked by the test")
    return out


def test_order_is_the_documented_precedence_lowest_first() -> None:
    by_module = {"base_schedule": "schedule", "optimal_start": "start",
                 "tariff_optimisation": "tariff", "comfort_guard": "comfort",
                 "occupancy_standby": "occupancy", "operator_override": "override",
                 "demand_limit": "demand", "window": "window",
                 "regulatory_clamps": "clamp", "equipment_protection": "protection"}
    names = [by_module[layer.__module__.rsplit(".", 1)[1]] for layer in layers.ORDER[:-2]]
    assert names == list(reversed(LAYER_NAMES))[:-1]  # safety is asked before them all
    # the limits again once protection has said which mode and power the unit will have
    assert layers.ORDER[-2] is regulatory_clamps.limits
    assert layers.ORDER[-1] is off_unit.apply


def test_docs_precedence_table_names_the_layer_modules_in_order() -> None:
    """docs/rules.md lists the layers highest first: safety, then ORDER read backwards."""
    text = (ROOT / "docs" / "rules.md").read_text()
    modules = re.findall(r"^\| \d+ \| \*\*[^|]+\*\* \| `(\w+)\.py` \|", text, re.M)
    order = [layer.__module__.rsplit(".", 1)[1] for layer in layers.ORDER[:-2]]
    assert modules == ["safety", *reversed(order)]


# -- regulatory clamps ----------------------------------------------------------------------

ON_COOL: list[Value | None] = [1, COOL, 26.0, FAN_CODES["auto"]]


@pytest.mark.parametrize(("day", "unit", "current", "asked", "want", "rule"), [
    # a cooling setpoint below the floor is raised to it, whoever asked
    (JULY, "ac-r101", ON_COOL, {"setpoint": 24.0}, {SETPOINT: 26.0}, "clamp:cooling-floor"),
    # ... also one set at the wall remote (no layer asked: the unit's own setting)
    (JULY, "ac-r101", [1, COOL, 23.0, 0], {}, {SETPOINT: 26.0}, "clamp:cooling-floor"),
    # within the limits: the asking layer keeps the point
    (JULY, "ac-r101", ON_COOL, {"setpoint": 27.0}, {SETPOINT: 27.0}, "override:t"),
    # heating above the ceiling is lowered, for the mode the unit will run in
    (JANUARY, "ac-r101", ON_COOL, {"mode": HEAT, "setpoint": 24.0}, {SETPOINT: 20.0},
     "clamp:heating-ceiling"),
    # auto becomes the season's mode, then the floor applies to it
    (JULY, "ac-r101", ON_COOL, {"mode": AUTO, "setpoint": 22.0}, {MODE: COOL, SETPOINT: 26.0},
     "clamp:cooling-floor"),
    (JANUARY, "ac-r101", ON_COOL, {"mode": AUTO}, {MODE: HEAT, SETPOINT: 20.0},
     "clamp:heating-ceiling"),
    # a unit that is (to be) off is not bounded by the limits
    (JULY, "ac-r101", ON_COOL, {"power": 0, "setpoint": 24.0}, {SETPOINT: 24.0}, "override:t"),
    # an exempt zone may go lower, but never past the unit's own range
    (JULY, "ac-srv201", ON_COOL, {"setpoint": 22.0}, {SETPOINT: 22.0}, "override:t"),
    (JULY, "ac-srv201", ON_COOL, {"setpoint": 16.0}, {SETPOINT: 18.0}, "clamp:device-range"),
])
def test_regulatory_clamps(day: str, unit: str, current: list[Value | None],
                           asked: dict[str, Value], want: dict[int, Value], rule: str) -> None:
    p = proposal(current, **asked)
    ctx = ctx_at(day, "10:00")
    for clamp_pass in (regulatory_clamps.apply, regulatory_clamps.limits):
        clamp_pass(p, demo_rules().units[unit], UnitState(), ctx)
    for point, value in want.items():
        assert p.final(point) == value
    decider = p.who[SETPOINT]
    assert (decider.rule if decider is not None else None) == rule
    if rule.startswith("clamp:"):
        assert decider is not None and decider.layer == CLAMP


def test_clamps_drop_what_the_unit_cannot_do() -> None:
    p = proposal(ON_COOL, mode=DRY, fan=FAN_CODES["very_low"])
    regulatory_clamps.apply(p, demo_rules().units["ac-m101"], UnitState(), ctx_at(JULY, "10:00"))
    assert p.who[MODE] is None and p.who[FAN] is None  # no command, and nobody holds them
    assert [(o.rule, o.value) for o in p.trace or [] if o.layer == CLAMP] == \
        [("clamp:device-modes", None)]


@pytest.mark.parametrize(("unit", "asked", "mode"), [
    ("ac-r101", {"mode": AUTO}, COOL),                 # on, not exempt: auto → cool in July
    ("ac-r101", {"mode": AUTO, "power": 0}, AUTO),     # going off: nothing to clamp
    ("ac-srv201", {"mode": AUTO}, AUTO),               # exempt: auto stays
])
def test_the_first_clamp_pass_replaces_auto_only_on_a_running_unit(
        unit: str, asked: dict[str, Value], mode: int) -> None:
    """``apply`` alone (``limits`` would do it again later for a unit left on)."""
    p = proposal(ON_COOL, **asked)
    regulatory_clamps.apply(p, demo_rules().units[unit], UnitState(), ctx_at(JULY, "10:00"))
    assert p.final(MODE) == mode
    said = [(o.rule, o.reason) for o in p.trace or [] if o.layer == CLAMP]
    if mode == COOL:
        assert said == [("clamp:no-auto", "auto mode may cool below the floor or heat above "
                         "the ceiling: set to cool for the season")]
    else:
        assert said == []


def test_the_unit_range_is_inclusive_and_says_so() -> None:
    srv = demo_rules().units["ac-srv201"]
    for edge in (srv.sp_min, srv.sp_max):
        p = proposal(ON_COOL, setpoint=edge)
        regulatory_clamps.apply(p, srv, UnitState(), ctx_at(JULY, "10:00"))
        assert p.who[SETPOINT] is not None and p.who[SETPOINT].rule == "override:t"
    p = proposal(ON_COOL, setpoint=srv.sp_max + 5)
    regulatory_clamps.apply(p, srv, UnitState(), ctx_at(JULY, "10:00"))
    assert p.who[SETPOINT] is not None and p.who[SETPOINT].reason == (
        f"{srv.sp_max + 5:g} °C is outside the unit's range {srv.sp_min:g}-{srv.sp_max:g} °C: "
        f"{srv.sp_max:g} °C")


def test_the_ceiling_itself_is_allowed_and_the_reason_names_the_source() -> None:
    unit = demo_rules().units["ac-r101"]
    p = proposal(ON_COOL, mode=HEAT, setpoint=20.0)
    regulatory_clamps.limits(p, unit, UnitState(), ctx_at(JANUARY, "10:00"))
    assert p.who[SETPOINT] is not None and p.who[SETPOINT].rule == "override:t"
    p = proposal([1, HEAT, 23.0, 0])  # the wall remote's 23 °C, no layer asked
    regulatory_clamps.limits(p, unit, UnitState(), ctx_at(JANUARY, "10:00"))
    assert p.who[SETPOINT] is not None and p.who[SETPOINT].reason == (
        "heating setpoint 23 °C (from the unit's own setting) lowered to the 20 °C ceiling")


# -- demand limit and its offsets ----------------------------------------------------------------

@pytest.mark.parametrize(("level", "current", "asked", "want_sp", "want_power"), [
    (0, ON_COOL, {"setpoint": 26.0}, 26.0, None),          # not shed: nothing said
    (1, ON_COOL, {"setpoint": 26.0}, 27.0, None),          # relief on what was asked
    (2, ON_COOL, {"setpoint": 26.0}, 28.0, None),
    (1, [1, HEAT, 20.0, 0], {}, 19.0, None),               # heating: relief lowers, on the unit's
    (1, ON_COOL, {"mode": HEAT, "setpoint": 20.0}, 19.0, None),  # the mode it will run in
    # past the relief levels: off, keeping the deepest relief (protection may hold the off)
    (3, ON_COOL, {"setpoint": 26.0}, 28.0, 0),
])
def test_demand_limit(level: int, current: list[Value | None], asked: dict[str, Value],
                      want_sp: float, want_power: int | None) -> None:
    p = proposal(current, **asked)
    ctx = ctx_at(JULY, "15:00", levels={"ac-r101": level} if level else None)
    demand_limit.apply(p, demo_rules().units["ac-r101"], UnitState(), ctx)
    assert p.final(SETPOINT) == want_sp
    assert p.value(POWER) == want_power
    shed = p.who[POWER] if want_power is not None else p.who[SETPOINT]
    assert (shed is not None and shed.layer == DEMAND) == (level > 0)


def test_relief_holds_on_the_setpoint_it_began_from_until_released() -> None:
    unit, state = demo_rules().units["ac-r101"], UnitState()
    ctx = ctx_at(JULY, "15:00", levels={"ac-r101": 1})
    first = Proposal([1, COOL, 26.0, 0])
    demand_limit.apply(first, unit, state, ctx)
    offsets.settle(first, state)
    assert (first.value(SETPOINT), state.anchor) == (27.0, 26.0)
    # the unit now shows 27 °C: still 27, not 28
    again = Proposal([1, COOL, 27.0, 0])
    demand_limit.apply(again, unit, state, ctx)
    offsets.settle(again, state)
    assert again.value(SETPOINT) == 27.0
    released = Proposal([1, COOL, 27.0, 0])
    demand_limit.apply(released, unit, state, ctx_at(JULY, "15:10"))
    offsets.settle(released, state)
    assert released.value(SETPOINT) is None and state.anchor is None


# -- equipment protection, off units, safety ---------------------------------------------------

@pytest.mark.parametrize(("since_s", "asked_power", "deferred"), [
    (60, 0, True),     # on for a minute: the 300 s minimum on time holds the switch-off
    (600, 0, False),
    (60, 1, False),    # already on: nothing to defer
])
def test_protection_defers_a_switch(since_s: float, asked_power: int, deferred: bool) -> None:
    ctx = ctx_at(JULY, "10:00")
    state = UnitState()
    state.hist.switched(0, ctx.now - 7200)
    state.hist.switched(1, ctx.now - since_s)
    p = proposal(ON_COOL, power=asked_power)
    equipment_protection.apply(p, demo_rules().units["ac-r101"], state, ctx)
    decider = p.who[POWER]
    assert decider is not None
    assert (decider.layer, decider.value) == ((PROTECTION, None) if deferred
                                              else (OVERRIDE, asked_power))
    statuses = [o.status for o in p.trace or [] if o.layer == PROTECTION]
    assert statuses == (["deferred"] if deferred else [])


def test_an_off_unit_gets_only_its_power_command() -> None:
    p = proposal([0, COOL, 26.0, 0], mode=HEAT, setpoint=20.0)
    off_unit.apply(p, demo_rules().units["ac-r101"], UnitState(), ctx_at(JULY, "10:00"))
    assert (p.value(MODE), p.value(SETPOINT)) == (None, None)
    kept = p.who[MODE]
    assert kept is not None and kept.rule == "override:t"  # who holds it is still known
    assert [o.status for o in p.trace or []][-2:] == ["suppressed", "suppressed"]
    on = proposal([0, COOL, 26.0, 0], power=1, setpoint=27.0)
    off_unit.apply(on, demo_rules().units["ac-r101"], UnitState(), ctx_at(JULY, "10:00"))
    assert on.value(SETPOINT) == 27.0


def test_safety_leaves_a_unit_without_a_fresh_reading_alone() -> None:
    ctx = ctx_at(JULY, "10:00")
    state = UnitState()
    assert safety.stale(state, ctx)  # never read
    state.ts = ctx.now - demo_rules().safety.stale_after_s + 1
    assert not safety.stale(state, ctx)
    assert safety.kill_switch("maintenance").layer == SAFETY


def test_the_layers_in_order_need_only_the_proposal_state_and_context() -> None:
    """No clock, no hidden input: the same proposal, state and context, the same decisions;
    each layer works on what the ones below it said."""
    unit = demo_rules().units["ac-r101"]
    runs = []
    for _ in range(2):
        ctx = ctx_at(JULY, "10:00", levels={"ac-r101": 1})
        ctx.overrides.add(Override("op", unit.id, ((SETPOINT, 23.0),), ctx.now, ctx.now + 3600))
        p = Proposal([1, AUTO, 22.0, 0], trace=[])
        for layer in layers.ORDER:
            layer(p, unit, UnitState(), ctx)
        runs.append(([(d.value, d.layer, d.rule, d.reason) if d else None for d in p.who],
                     [(o.layer, o.value) for o in p.trace or [] if o.point == SETPOINT]))
    assert runs[0] == runs[1]
    who, setpoint_says = runs[0]
    # the schedule's 27 °C, the idle pre-cooling, the operator's 23 °C, +1 K relief, the floor
    assert setpoint_says == [(SCHEDULE, 27.0), (TARIFF, None), (OVERRIDE, 23.0), (DEMAND, 24.0),
                             (CLAMP, 26.0)]
    final = who[SETPOINT]
    assert final is not None and final[:3] == (26.0, CLAMP, "clamp:cooling-floor")
    assert "24 °C (from demand)" in final[3]
    mode = who[MODE]
    assert mode is not None and mode[:2] == (COOL, SCHEDULE)


LAYER_FILES = sorted((Path(layers.__file__).parent).glob("*.py"))


@pytest.mark.parametrize("path", LAYER_FILES, ids=lambda p: p.name)
def test_layers_do_no_io_and_read_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text())
    doc = ast.get_docstring(tree) or ""
    if path.name != "__init__.py":
        assert doc.startswith("Pure:"), f"{path.name}: the first line says it is pure"
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
        {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    allowed = ("__future__", "bisect", "collections.abc", "datetime", "math",
               "gateway.control.layers",
               "gateway.control.ruleset", "gateway.control.state", "gateway.control.protection",
               "gateway.control.start_plan",
               "gateway.core.calendar", "gateway.core.policy", "gateway.core.semantics")
    assert {m for m in imported if not m.startswith(allowed)} == set()
    calls = {n.func.attr for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert not calls & {"now", "today", "utcnow", "time", "monotonic", "open", "read_text"}


def test_remembered_schedule_picks_are_the_picks_of_every_minute() -> None:
    """base_schedule remembers its picks per segment between step minutes; every minute of
    a workday, a make-up Saturday and a holiday must see what a fresh computation sees."""
    from gateway.control.layers.base_schedule import _remembered_picks, slot_picks

    rules = demo_rules()
    for day in ("2026-07-15", "2026-02-28", "2026-10-01", JANUARY):
        for minute in range(0, 1440, 7):
            hhmm = f"{minute // 60:02d}:{minute % 60:02d}"
            ctx = ctx_at(day, hhmm)
            for uid in ("ac-r101", "ac-m101", "ac-srv201"):
                unit = rules.units[uid]
                combo = rules.slot_by_unit[uid]
                fresh = slot_picks(combo, unit, ctx)
                kept = _remembered_picks(combo, unit, ctx)
                assert [None if p is None else (p.decision, p.key) for p in kept] == \
                    [None if p is None else (p.decision, p.key) for p in fresh], (day, hhmm, uid)
