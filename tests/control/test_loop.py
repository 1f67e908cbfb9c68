"""The control loop with a fake writer: audit records, retries and alarms, dry run, operator
commands as overrides, hot reload (file change and SIGHUP) that never half-applies."""

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control.actuator import Actuator
from gateway.control.audit import AuditLog
from gateway.control.loop import ControlLoop
from gateway.control.state import UnitCommand
from gateway.core.clock import ManualClock
from gateway.core.profile import Value
from gateway.core.semantics import MODE_CODES
from tests.control.ctl_world import DEMO_RULES, ROOT, at, demo_site
from tests.docs_quotes import docs_quote


class FakeWriter:
    """Units that take writes (or refuse the ones listed), and readings of them."""

    def __init__(self, units: list[str]):
        self.state = {u: {"power": 0, "mode": 0, "setpoint_c": 26.0, "fan": 0,
                          "room_temp_c": 28.0} for u in units}
        self.fail: set[tuple[str, str]] = set()
        self.raise_for: set[str] = set()
        self.writes: list[tuple[str, str, Value]] = []
        self.seq = 0

    async def write(self, device_id: str, point_name: str, value: Value, *,
                    ttl_s: float | None = None, verify: bool = True) -> WriteOutcome:
        if device_id in self.raise_for:
            raise KeyError(f"no device '{device_id}'")
        self.writes.append((device_id, point_name, value))
        if (device_id, point_name) in self.fail:
            return WriteOutcome(False, "read-back shows 0, wrote 1", 0)
        self.state[device_id][point_name] = value
        return WriteOutcome(True, None, value)

    def readings(self, clock: ManualClock, latest: dict[str, Reading]) -> None:
        self.seq += 1
        for u, v in self.state.items():
            latest[u] = Reading(u, clock.now(), self.seq, dict(v))
        latest["main-meter"] = Reading("main-meter", clock.now(), self.seq,
                                       {"active_power_kw": 20.0})


@dataclass
class Rig:
    loop: ControlLoop
    writer: FakeWriter
    clock: ManualClock
    latest: dict[str, Reading]
    rules_path: Path
    published: list[dict[str, Any]]

    async def step(self, seconds: float = 10) -> None:
        self.writer.readings(self.clock, self.latest)
        await self.loop.tick_once()
        await self.clock.advance(seconds)


def edit(path: Path, old: str, new: str) -> str:
    """Replace the first ``old`` in a file (whole text when old is the text); returns it."""
    text = path.read_text()
    assert old in text
    text = new if old == text else text.replace(old, new, 1)
    path.write_text(text)
    return text


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    path = tmp_path / "rules" / "demo-office.yaml"
    path.parent.mkdir()
    shutil.copy(DEMO_RULES, path)
    text = path.read_text().replace("restart_stagger_s: 120", "restart_stagger_s: 0")
    path.write_text(text)
    return path


def make_rig(tmp_path: Path, rules_path: Path, start: str = "07:59", dry_run: bool = False,
             day: str = "2026-07-15") -> Rig:
    site = demo_site()
    clock = ManualClock(at(day, start))
    writer = FakeWriter([d for d, x in site.devices.items() if x.profile.kind == "hvac"])
    latest: dict[str, Reading] = {}
    published: list[dict[str, Any]] = []

    async def publish(rec: dict[str, Any]) -> None:
        published.append(rec)

    loop = ControlLoop(site, rules_path, writer, clock, latest, dry_run=dry_run,
                       audit=AuditLog(tmp_path / "audit" / "control.jsonl"), publish=publish)
    return Rig(loop, writer, clock, latest, rules_path, published)


async def test_changes_are_audited_locally_and_published(tmp_path: Path,
                                                         rules_copy: Path) -> None:
    rig = make_rig(tmp_path, rules_copy)
    for _ in range(8):
        await rig.step()
    assert rig.writer.state["ac-r101"]["power"] == 1
    assert rig.loop.audit is not None
    records = rig.loop.audit.read()
    changes = [r for r in records if r["kind"] == "change"]
    assert changes and changes == [r for r in rig.published if r["kind"] == "change"]
    r = next(r for r in changes if r["device"] == "ac-r101" and r["point"] == "power")
    assert r["before"] == 0 and r["after"] == 1 and r["ok"] is True and r["applied"] == 1
    assert r["rule"] == "schedule:offices-cooling" and r["layer"] == "schedule"
    assert "workday step 07:00" in r["reason"] and r["inputs"]["day_type"] == "workday"
    assert r["ts"].endswith("Z") and r["v"] == 1
    json.dumps(records)  # plain JSON all the way


async def test_verified_write_failure_becomes_an_alarm(tmp_path: Path, rules_copy: Path) -> None:
    rig = make_rig(tmp_path, rules_copy)
    rig.writer.fail.add(("ac-r102", "power"))
    for _ in range(12):
        await rig.step()
    tries = [w for w in rig.writer.writes if w[:2] == ("ac-r102", "power")]
    assert len(tries) == 3
    alarms = [r for r in rig.published if r["kind"] == "alarm"]
    assert [a["rule"] for a in alarms if a["active"]] == ["write:ac-r102:power"]
    assert "not applied after 3 attempts" in alarms[0]["reason"]
    # a refused write (unknown target) is a failed outcome, not a crash
    rig.writer.raise_for.add("ac-r103")
    rig.writer.state["ac-r103"]["setpoint_c"] = 22.0
    await rig.step()
    failed = [r for r in rig.published if r["kind"] == "change" and r["device"] == "ac-r103"
              and r["ok"] is False]
    assert failed and failed[-1]["error"].startswith("refused")


async def test_dry_run_writes_nothing(tmp_path: Path, rules_copy: Path) -> None:
    rig = make_rig(tmp_path, rules_copy, dry_run=True)
    for _ in range(10):
        await rig.step()
    assert rig.writer.writes == []
    dry = [r for r in rig.published if r["kind"] == "change"]
    assert dry and all(r["dry_run"] for r in dry)
    assert len([r for r in dry if r["device"] == "ac-r101" and r["point"] == "power"]) == 1


async def test_operator_command_becomes_a_clamped_override(tmp_path: Path,
                                                           rules_copy: Path) -> None:
    rig = make_rig(tmp_path, rules_copy, start="10:00")
    for _ in range(3):
        await rig.step()

    @dataclass
    class Cmd:
        id: str
        device: str
        point: str
        value: Value

    out = await rig.loop.apply_command(Cmd("op-7", "ac-r101", "setpoint_c", 22))
    # issue 14, finding 6: not ok, because the unit holds 26 °C, not the 22 °C asked for
    assert not out.ok and out.applied == 26.0
    assert "setpoint_c is 26 °C, not 22 °C: clamp (clamp:cooling-floor)" in (out.error or "")
    out = await rig.loop.apply_command(Cmd("op-8", "ac-r101", "setpoint_c", 28))
    assert out.ok and out.applied == 28
    assert rig.writer.state["ac-r101"]["setpoint_c"] == 28
    out = await rig.loop.apply_command(Cmd("op-9", "ac-r101", "room_temp_c", 20))
    assert not out.ok and "refused" in (out.error or "")
    out = await rig.loop.apply_command(Cmd("op-10", "ac-r101", "setpoint_c", 28))
    assert out.ok and out.applied == 28   # already so: nothing written, still ok
    # the override expires by itself (120 min) and the unit goes back to its step:
    # at 13:00 that is the midday valley pre-cool at 26.5 °C
    for _ in range(3):
        await rig.step(3600)
    assert rig.writer.state["ac-r101"]["setpoint_c"] == 26.5


async def test_override_deferred_by_protection_says_so(tmp_path: Path, rules_copy: Path) -> None:
    rig = make_rig(tmp_path, rules_copy, start="08:00")
    for _ in range(3):
        await rig.step()
    assert rig.writer.state["ac-r101"]["power"] == 1
    out = await rig.loop.override("ac-r101", {"power": 0}, override_id="cli-1",
                                  duration_s=1800, who="operator")
    assert not out.ok and out.applied == 1
    # docs/rules.md quotes this answer word for word
    assert out.error == docs_quote("rules.md", "that protection started at 08:00 gets")


async def test_invalid_rule_file_leaves_the_old_set_running(tmp_path: Path,
                                                            rules_copy: Path) -> None:
    rig = make_rig(tmp_path, rules_copy, start="07:55")
    old = rig.loop.rules
    good = edit(rules_copy, "", "")
    bad = edit(rules_copy, '{at: "07:00", power: on, mode: cool, setpoint_c: 27, fan: auto}',
               '{at: "07:00", power: on, mode: cool, setpoint_c: 24, fan: auto}')
    await rig.step(60)  # a changed file waits a tick to hold still (a copy under way) …
    assert not [r for r in rig.published if r["rule"] == "rules:invalid"]
    await rig.step(60)  # … then it is loaded, and refused
    assert rig.loop.rules is old
    alarm = [r for r in rig.published if r["kind"] == "alarm" and r["rule"] == "rules:invalid"]
    assert len(alarm) == 1 and alarm[0]["active"]
    assert f"{rules_copy}:" in alarm[0]["reason"] and "below the cooling floor" in \
        alarm[0]["reason"]
    line = alarm[0]["reason"].split(f"{rules_copy}:")[1].split(":")[0]
    assert "setpoint_c: 24" in bad.splitlines()[int(line) - 1]
    assert rig.loop.last_problems
    # the old set still runs the building
    for _ in range(6):
        await rig.step(60)
    assert rig.writer.state["ac-r101"]["power"] == 1
    assert rig.writer.state["ac-r101"]["setpoint_c"] == 27.0
    # a good edit is taken whole, and the alarm clears
    edit(rules_copy, bad, good.replace("limit_kw: 32", "limit_kw: 35"))
    await rig.step()
    await rig.step()
    assert rig.loop.rules is not old and rig.loop.rules.demand.limit_kw == 35  # type: ignore
    assert any(r["kind"] == "alarm" and r["rule"] == "rules:invalid" and not r["active"]
               for r in rig.published)


async def test_sighup_reload(tmp_path: Path, rules_copy: Path) -> None:
    rig = make_rig(tmp_path, rules_copy, start="10:00")
    rig.loop.watch = False
    await rig.step()
    old = rig.loop.rules
    edit(rules_copy, "limit_kw: 32", "limit_kw: 33")
    await rig.step()
    assert rig.loop.rules is old  # not watching: waits for SIGHUP
    rig.loop.request_reload()
    await rig.step()
    assert rig.loop.rules is not old
    assert any(r["kind"] == "notice" and "reloaded" in r["reason"] for r in rig.published)


async def test_sighup_reload_waits_for_the_tick_under_way(tmp_path: Path,
                                                          rules_copy: Path) -> None:
    """The daemon's SIGHUP path: a tick awaiting its writes finishes with the rules it
    computed them with; the new set comes in after it."""
    rig = make_rig(tmp_path, rules_copy, start="10:00")
    rig.loop.watch = False
    writing, release = asyncio.Event(), asyncio.Event()
    write = rig.writer.write

    async def held_write(*args: Any, **kwargs: Any) -> WriteOutcome:
        writing.set()
        await release.wait()
        return await write(*args, **kwargs)

    rig.writer.write = held_write  # type: ignore[method-assign]
    rig.writer.readings(rig.clock, rig.latest)
    tick = asyncio.create_task(rig.loop.tick_once())
    await writing.wait()
    old = rig.loop.rules
    edit(rules_copy, "limit_kw: 32", "limit_kw: 33")
    reload = asyncio.create_task(rig.loop.reload_between_ticks())
    await asyncio.sleep(0)  # one turn: an unlocked reload would be done now
    assert not reload.done() and rig.loop.rules is old
    release.set()
    await tick
    assert await reload == []
    assert rig.loop.rules is not old


async def test_run_ticks_on_the_clock_and_stops(tmp_path: Path, rules_copy: Path) -> None:
    rig = make_rig(tmp_path, rules_copy, start="07:59:30")
    rig.writer.readings(rig.clock, rig.latest)
    task = asyncio.create_task(rig.loop.run())
    for _ in range(6):
        rig.writer.readings(rig.clock, rig.latest)
        await rig.clock.advance(10)
        for _ in range(20):
            await asyncio.sleep(0)
    rig.loop.stop()
    await asyncio.wait_for(task, 2)
    assert rig.loop.ticks >= 6
    assert rig.writer.state["ac-r101"]["power"] == 1
    await rig.loop.close()


async def test_actuator_orders_one_units_commands_and_survives_errors() -> None:
    class Boom:
        def __init__(self) -> None:
            self.seen: list[str] = []

        async def write(self, device_id: str, point_name: str, value: Value, *,
                        ttl_s: float | None = None, verify: bool = True) -> WriteOutcome:
            self.seen.append(f"{device_id}.{point_name}")
            if point_name == "fan":
                raise RuntimeError("bug")
            return WriteOutcome(True, None, value)

    def cmd(d: str, p: str) -> UnitCommand:
        return UnitCommand(d, p, 1, 0, "schedule", "r", "why", {}, 30)

    writer = Boom()
    out = await Actuator(writer).apply({"a": [cmd("a", "mode"), cmd("a", "fan"),
                                              cmd("a", "power")], "b": [cmd("b", "power")]})
    assert [o.ok for _, o in out] == [True, False, True, True]
    assert writer.seen.index("a.mode") < writer.seen.index("a.power")
    assert "internal error" in (out[1][1].error or "")


def test_audit_log_rotates(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl", max_bytes=400, keep=2)
    for i in range(40):
        log.write({"v": 1, "i": i, "pad": "x" * 30})
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["a.jsonl", "a.jsonl.1", "a.jsonl.2"]
    seen = [json.loads(x)["i"] for name in ("a.jsonl.2", "a.jsonl.1", "a.jsonl")
            for x in (tmp_path / name).read_text().splitlines()]
    assert seen == list(range(seen[0], 40)) and len(seen) > 10
    assert all((tmp_path / n).stat().st_size <= 400 for n in files)


def test_loop_refuses_an_invalid_file_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("schedules:\n  x:\n    group: nobody\n    workday: [{at: '08:00', power: on}]\n")
    from gateway.core.sourcefile import ConfigError
    with pytest.raises(ConfigError) as err:
        ControlLoop(demo_site(), bad, None, ManualClock(at("2026-07-15", "08:00")), {})
    assert str(err.value).startswith(f"{bad}:3: schedules.x.group: no group or AC unit")



HOSTILE = sorted((ROOT / "tests" / "cases" / "hostile").glob("*/file.yaml"))


@pytest.mark.parametrize("hostile", [*HOSTILE, None], ids=lambda p: p.parent.name if p else
                         "empty")
async def test_a_hostile_rule_file_never_stops_control(tmp_path: Path, rules_copy: Path,
                                                       hostile: Path | None) -> None:
    """Issue 14, findings 2 and 3: whatever bytes land in the rule file (an alias bomb,
    NUL bytes, deep nesting, an empty file), the loop keeps ticking under the last good
    set and raises rules:invalid with the file's own problem."""
    rig = make_rig(tmp_path, rules_copy, start="08:00")
    old = rig.loop.rules
    await rig.step(60)
    overwrite(rules_copy, hostile)
    ticks = rig.loop.ticks
    for _ in range(3):
        await rig.step(60)
    assert rig.loop.ticks == ticks + 3 and rig.loop.failed_ticks == 0
    assert rig.loop.rules is old and rig.loop.last_problems
    [alarm] = [r for r in rig.published if r["rule"] == "rules:invalid"]
    assert alarm["active"] and f"{rules_copy}" in alarm["reason"]
    assert rig.writer.state["ac-r101"]["power"] == 1  # the offices still run at 08:03


async def test_a_failing_tick_is_counted_alarmed_and_cleared(tmp_path: Path,
                                                             rules_copy: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    rig = make_rig(tmp_path, rules_copy, start="08:00")
    rig.writer.readings(rig.clock, rig.latest)
    real_tick = rig.loop.engine.tick

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in a layer")

    monkeypatch.setattr(rig.loop.engine, "tick", broken)
    task = asyncio.create_task(rig.loop.run())
    try:
        await until(lambda: rig.loop.failed_ticks == 1)
        assert rig.loop.ticks == 0  # the watchdog's progress counter stands still
        raised = [r for r in rig.published if r["rule"] == "control:tick-failed"]
        assert raised and raised[-1]["active"] and "a bug in a layer" in raised[-1]["reason"]
        monkeypatch.setattr(rig.loop.engine, "tick", real_tick)
        await rig.clock.advance(rig.loop.rules.engine.tick_s)
        await until(lambda: rig.loop.ticks >= 1)
        await until(lambda: any(r["rule"] == "control:tick-failed" and not r["active"]
                                for r in rig.published))
        assert rig.loop.failed_ticks == 1
    finally:
        rig.loop.stop()
        await task


def overwrite(path: Path, source: Path | None) -> None:
    """The rule file replaced by ``source``'s bytes (None: emptied)."""
    path.write_bytes(source.read_bytes() if source else b"")


async def until(condition: Any, rounds: int = 10_000) -> None:
    """Let the loop's task run until ``condition`` holds (no wall-clock sleeping)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


@pytest.mark.parametrize(("day", "running", "left"), [
    # winter day off: the set-back ends at 07:00 and the step says "off, heat, 18.3 °C":
    # whoever comes in and switches a unit on gets 18.3 °C, not the set-back's 16.5
    ("2026-12-13", {"mode": MODE_CODES["heat"], "setpoint_c": 16.5}, 18.3),
    # summer day off: the step says only "off": the unit keeps what it had
    ("2026-07-19", {"mode": MODE_CODES["cool"], "setpoint_c": 26.5}, 26.5),
])
async def test_a_step_that_switches_off_leaves_the_unit_set_as_it_names(
        tmp_path: Path, rules_copy: Path, day: str, running: dict[str, Value],
        left: float) -> None:
    rig = make_rig(tmp_path, rules_copy, start="06:58", day=day)
    for state in rig.writer.state.values():
        state.update(power=1, **running)
    for _ in range(18):  # 06:58 .. 07:01
        await rig.step()
    assert rig.writer.state["ac-r101"]["power"] == 0
    assert rig.writer.state["ac-r101"]["setpoint_c"] == left


async def test_a_setpoint_is_left_only_with_its_own_mode(tmp_path: Path,
                                                         rules_copy: Path) -> None:
    """A unit someone set to cool on a winter morning, switched off by the day-off step:
    18.3 °C is a heating setpoint; left on a unit still in cool mode (protection holds the
    changeover back) it would cool at 18.3 °C once switched on at the remote."""
    rig = make_rig(tmp_path, rules_copy, start="06:58", day="2026-12-13")
    for state in rig.writer.state.values():
        state.update(power=1, mode=MODE_CODES["cool"], setpoint_c=26.0)
    for _ in range(18):
        await rig.step()
    unit = rig.writer.state["ac-r101"]
    assert unit["power"] == 0
    assert (unit["mode"], unit["setpoint_c"]) in {(MODE_CODES["cool"], 26.0),
                                                  (MODE_CODES["heat"], 18.3)}, unit
