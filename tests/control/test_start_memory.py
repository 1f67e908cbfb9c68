"""What the optimal starts learned survives a restart of `escogw run` (issue 15): the
models are kept in a file beside the outbox, restored whole or not at all, and a bad
file is named, left out and overwritten by the next lesson."""

import json
import shutil
from pathlib import Path

import pytest

from gateway.acquisition.reading import Reading
from gateway.control import start_memory
from gateway.control.loop import ControlLoop
from gateway.control.state import UnitState
from gateway.core.clock import ManualClock
from tests.control.ctl_world import DEMO_RULES, at, demo_site
from tests.control.test_loop import FakeWriter


def learned_states() -> dict[str, UnitState]:
    states = {"ac-r101": UnitState(), "ac-r102": UnitState(), "ac-m101": UnitState()}
    states["ac-r101"].warm_rate, states["ac-r101"].warm_jump = 2.1, 4.4
    states["ac-r102"].cool_rate, states["ac-r102"].cool_jump = 1.7, 2.5
    return states


def test_the_models_go_out_and_come_back_as_they_were() -> None:
    data = start_memory.snapshot(learned_states())
    assert data == {"version": 1, "units": {
        "ac-r101": {"warm_rate": 2.1, "warm_jump": 4.4},
        "ac-r102": {"cool_rate": 1.7, "cool_jump": 2.5}}}  # nothing learned: not written
    fresh = {u: UnitState() for u in ("ac-r101", "ac-r102", "ac-m101")}
    data["units"]["ac-gone"] = {"warm_rate": 3.0}  # a unit no longer on the site
    assert start_memory.restore(json.loads(json.dumps(data)), fresh, "f.json") == []
    assert (fresh["ac-r101"].warm_rate, fresh["ac-r101"].warm_jump) == (2.1, 4.4)
    assert (fresh["ac-r102"].cool_rate, fresh["ac-r102"].cool_jump) == (1.7, 2.5)
    assert fresh["ac-r101"].cool_rate is None and fresh["ac-m101"].warm_rate is None


@pytest.mark.parametrize(("units", "field", "message"), [
    ({"ac-r101": {"warm_rate": "fast"}}, "units.ac-r101.warm_rate", "not a number"),
    ({"ac-r101": {"warm_rate": True}}, "units.ac-r101.warm_rate", "not a number"),
    ({"ac-r101": {"warm_rate": float("nan")}}, "units.ac-r101.warm_rate", "not a number"),
    ({"ac-r101": {"warm_rate": 0.0}}, "units.ac-r101.warm_rate", "outside 0.2..20"),
    ({"ac-r101": {"cool_jump": -1}}, "units.ac-r101.cool_jump", "outside 0..30"),
    ({"ac-r101": {"warm_speed": 2}}, "units.ac-r101.warm_speed", "unknown field"),
    ({"ac-r101": [2.0]}, "units.ac-r101", "not a mapping"),
])
def test_a_bad_entry_leaves_the_whole_file_out_and_names_its_field(
        units: dict[str, object], field: str, message: str) -> None:
    states = {"ac-r101": UnitState(), "ac-r102": UnitState()}
    data = {"version": 1, "units": {"ac-r102": {"warm_rate": 2.5}, **units}}
    problems = start_memory.restore(data, states, "learned.json")
    assert [p.field for p in problems] == [field]
    assert message in problems[0].message and problems[0].file == "learned.json"
    assert states["ac-r102"].warm_rate is None  # the sound entry was not taken either


def test_another_version_or_shape_is_refused() -> None:
    states = {"ac-r101": UnitState()}
    assert start_memory.restore([], states, "f")[0].message == "not a mapping"
    problems = start_memory.restore({"version": 2, "units": {}}, states, "f")
    assert [p.field for p in problems] == ["version"]


def loop_with(memory: Path, tmp_path: Path) -> tuple[ControlLoop, FakeWriter, ManualClock,
                                                     dict[str, Reading]]:
    rules = tmp_path / "rules" / "demo-office.yaml"
    if not rules.exists():
        rules.parent.mkdir()
        shutil.copy(DEMO_RULES, rules)
    site = demo_site()
    clock = ManualClock(at("2026-12-07", "03:00"))
    writer = FakeWriter([d for d, x in site.devices.items() if x.profile.kind == "hvac"])
    latest: dict[str, Reading] = {}
    return ControlLoop(site, rules, writer, clock, latest, memory=memory), writer, clock, latest


async def test_a_restarted_gateway_plans_with_what_it_had_learned(tmp_path: Path) -> None:
    memory = tmp_path / "state" / "control-learned.json"
    memory.parent.mkdir()
    loop, writer, clock, latest = loop_with(memory, tmp_path)
    writer.readings(clock, latest)
    await loop.tick_once()
    assert not memory.exists()  # nothing learned yet: nothing written
    loop.engine.states["ac-r101"].warm_rate = 2.1
    loop.engine.states["ac-r101"].warm_jump = 4.4
    await loop.tick_once()
    assert json.loads(memory.read_text())["units"]["ac-r101"] == {
        "warm_rate": 2.1, "warm_jump": 4.4}
    again, *_ = loop_with(memory, tmp_path)  # the restart
    st = again.engine.states["ac-r101"]
    assert (st.warm_rate, st.warm_jump) == (2.1, 4.4)
    assert any("restored" in r.get("reason", "") for r in again.recent)


async def test_a_corrupt_file_is_named_and_overwritten_by_the_next_lesson(
        tmp_path: Path) -> None:
    memory = tmp_path / "control-learned.json"
    memory.write_text('{"version": 1,\n "units": {"ac-r101": {"warm_rate": 2.1,}}}\n')
    loop, writer, clock, latest = loop_with(memory, tmp_path)
    note = next(r for r in loop.recent if "not restored" in r.get("reason", ""))
    assert f"{memory}:2:" in note["reason"] and "not JSON" in note["reason"]
    assert loop.engine.states["ac-r101"].warm_rate is None
    loop.engine.states["ac-r102"].warm_rate = 1.9
    writer.readings(clock, latest)
    await loop.tick_once()
    assert json.loads(memory.read_text())["units"] == {"ac-r102": {"warm_rate": 1.9}}
    assert not memory.with_name(memory.name + ".tmp").exists()


@pytest.mark.parametrize(("text", "says"), [
    ("[" * 100_000, "not a learned-models file"),
    ('{"version": 1, "units": {"ac-r101": {"warm_rate": ' + "9" * 5000 + "}}}",
     "units.ac-r101.warm_rate: not a number"),
    ('{"version": 1, "units": {"ac-r101": {"warm_rate": NaN}}}', "NaN is not a number"),
    ('{"version": true, "units": {}}', "version: expected 1"),
    ("\xff\xfe binary", "cannot read"),
])
async def test_any_bytes_in_the_file_leave_it_aside_and_the_gateway_starts(
        tmp_path: Path, text: str, says: str) -> None:
    memory = tmp_path / "control-learned.json"
    memory.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    loop, *_ = loop_with(memory, tmp_path)
    note = next(r for r in loop.recent if "not restored" in r.get("reason", ""))
    assert says in note["reason"], note["reason"]
    assert not memory.exists() and memory.with_name(memory.name + ".bad").exists()


async def test_a_dry_run_learns_nothing_into_the_file(tmp_path: Path) -> None:
    memory = tmp_path / "control-learned.json"
    rules = tmp_path / "rules" / "demo-office.yaml"
    rules.parent.mkdir()
    shutil.copy(DEMO_RULES, rules)
    clock = ManualClock(at("2026-12-07", "03:00"))
    loop = ControlLoop(demo_site(), rules, None, clock, {}, dry_run=True, memory=memory)
    loop.engine.states["ac-r101"].warm_rate = 2.1
    await loop.tick_once()
    assert not memory.exists()


def test_a_run_cannot_teach_what_the_file_would_refuse() -> None:
    from gateway.control.start_plan import Learned, learned
    model = Learned(19.0, 28.0)
    for _ in range(5):  # sensor glitches: 30 K in a few minutes, 40 K after
        new = learned(model, 0.0, (0.5, 60.0), 100.0, 0.75, heating=True)
        assert new is not None
        model = new
    states = {"u": UnitState()}
    states["u"].warm_rate, states["u"].warm_jump = model.rate_k_per_h, model.jump_k
    assert start_memory.restore(start_memory.snapshot(states), {"u": UnitState()}, "f") == []
