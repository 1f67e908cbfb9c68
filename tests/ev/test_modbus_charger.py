"""A Modbus wall box steered by the allocator, over a real Modbus TCP socket: the simulator
serves drivers/heidelberg-energy-control.yaml with its car; the gateway's acquisition
polls it and the car park (``ChargingService``, as in ``escogw run``) writes its limit,
fail-safe current and watchdog through the acquisition's write queue.

Cycle 5 s, fail-safe lease (so the watchdog) 20 s, polls every 2 s, on a 10× clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.acquisition.buses import AcquisitionEngine
from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.acquisition.stream import ReadingStream
from gateway.core.chargers import ChargingConfig
from gateway.core.clock import Clock
from gateway.core.profile import ProfileLibrary, Value
from gateway.core.semantics import CHARGE_STATE_CODES
from gateway.core.settings import GatewaySettings, MetricsSettings, MqttSettings, OutboxSettings
from gateway.core.site import load_site
from gateway.daemon import FAILED_EXIT, Gateway, run
from gateway.ev.allocator import Allocation
from gateway.ev.car_park import ChargingService
from gateway.ev.charging_rules import ChargingRulesSpec, compile_charging
from gateway.ev.supervisor import RulesInForce
from simulators.runner import SiteSimulator
from tests.ev.ev_world import scaled_clock, until
from tests.services import free_port

SPEED = 10.0
#: the site's load without the chargers (kW): the chargers get limit − margin − this
OTHER_KW = 12.0
LIMIT_KW, MARGIN_KW = 20.0, 2.0
FAILSAFE_KW = 5.0
#: 3 phases at 220 V: kW per amp
KW_PER_A = 3 * 220 / 1000


def wallbox_site(tmp_path: Path, *, charger: dict[str, Any] | None = None) -> Path:
    data: dict[str, Any] = {
        "site": {"id": "t-modbus", "floor_area_m2": 500, "occupants": 20},
        "links": {"carpark": {"transport": "tcp", "host": "127.0.0.1", "port": free_port(),
                              "timeout_s": 0.5}},
        "devices": {"wallbox-p1": {"link": "carpark", "profile": "heidelberg-energy-control",
                                   "unit_id": 1, "poll_interval_s": 2}},
        "charging": {
            "limit_kw": LIMIT_KW, "margin_kw": MARGIN_KW, "failsafe_kw": FAILSAFE_KW,
            "failsafe_after_s": 20, "cycle_s": 5, "host": "127.0.0.1", "port": free_port(),
            "circuits": {"carpark": {"max_kw": 50}},
            "chargers": {"WB01": {"modbus": {"device": "wallbox-p1"},
                                  "ac": {"phases": 3, "max_current_a": 16},
                                  "circuit": "carpark",
                                  "simulate": {"car": {"arrive_s": 0, "stay_h": 8,
                                                       "kwh": 30}},
                                  **(charger or {})}}},
        "simulation": {"seed": 3, "start": "2026-07-15T10:00:00", "speed": SPEED,
                       "step_s": 2, "day_kind": "workday",
                       "rooms": {"room0": {"kind": "office", "floor_area_m2": 30}}},
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class FixedLoad:
    """The site meter's window: the rest of the site at ``OTHER_KW`` plus what the wall
    boxes draw (the simulator's physics stands in for a main meter here)."""

    def __init__(self, sim: SiteSimulator):
        self.sim = sim

    def window_so_far(self, now: float) -> tuple[float, float, float] | None:
        return 0.0, 0.0, OTHER_KW + self.sim.wallbox_kw


@dataclass
class Rig:
    sim: SiteSimulator
    engine: AcquisitionEngine
    park: ChargingService
    clock: Clock
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    #: every allocation the supervisor made, in order
    allocs: list[Allocation] = field(default_factory=list)

    def uncontrolled_since(self, n: int) -> list[float]:
        """The metered load of the allocations from the ``n``-th on that did not steer
        the box (one under way when it changed may still have)."""
        return [round(a.uncontrolled_kw, 2) for a in self.allocs[n:]
                if ("WB01", 1) not in a.limits]

    def register(self, point: str) -> Any:
        memory = self.sim.physics.memories["wallbox-p1"]
        return memory.get("wallbox-p1", point)

    @property
    def box(self) -> Any:
        return self.sim.physics.wallboxes["wallbox-p1"]

    async def stop_gateway(self) -> None:
        """The gateway dies: no more polls, no more writes."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        await self.engine.stop()


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, rules: Callable[[], RulesInForce] | None = None,
              ignores: frozenset[str] = frozenset(), **site: Any) -> AsyncIterator[Rig]:
    """``ignores``: registers the wall box does not take writes to from the start."""
    site_path = wallbox_site(tmp_path, **site)
    loaded = load_site(site_path)
    clock = scaled_clock("2026-07-15T10:00:00", SPEED)
    sim = SiteSimulator(loaded, clock)
    stream = ReadingStream()
    engine = AcquisitionEngine(loaded, clock, stream)
    assert loaded.spec.charging is not None
    states: dict[str, dict[str, Any]] = {}

    async def set_state(topic: str, payload: bytes) -> None:
        states[topic] = json.loads(payload)

    async def send(topic: str, payload: bytes) -> None:
        states[topic] = json.loads(payload)

    park = ChargingService(loaded.spec.charging, clock, FixedLoad(sim), LIMIT_KW,
                           topic_prefix="esco/t-modbus", set_state=set_state, send=send,
                           source=str(site_path), writer=engine, rules=rules,
                           readings=stream.subscribe(lossy=True, maxsize=64),
                           profiles={d: dev.profile for d, dev in loaded.devices.items()})
    await sim.start()
    sim.physics.wallboxes["wallbox-p1"].ignores |= ignores
    allocs: list[Allocation] = []

    def cycled(alloc: Allocation) -> None:
        allocs.append(alloc)
        park._cycled(alloc)

    park.supervisor.on_cycle = cycled
    engine.start()
    r = Rig(sim, engine, park, clock, states, asyncio.ensure_future(park.run()),
            allocs=allocs)
    try:
        yield r
    finally:
        await r.stop_gateway()
        await sim.stop()


async def test_the_allocation_reaches_the_wallbox_register_and_its_draw_follows(
        tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        # the budget: 20 − 2 − 12 = 6 kW → 9.09 A per phase, rounded down to 9.0 A
        assert await until(r.clock, lambda: r.register("current_limit_a") == 9.0, 120)
        assert await until(r.clock, lambda: r.box.draw_kw == pytest.approx(9.0 * KW_PER_A),
                           30)
        # its fail-safe share of the 5 kW: 7.5 A, and the watchdog at the 20 s lease
        assert r.register("failsafe_current_a") == 7.5
        assert r.register("watchdog_timeout_s") == 20.0
        assert r.register("standby") == 0  # off: a box in standby drops off the bus
        st = r.park.cs.chargers["WB01"]
        assert await until(r.clock, lambda: st.connectors[1].status == "Charging"
                           and st.power_kw == pytest.approx(9.0 * KW_PER_A, abs=0.01), 30)
        assert st.vendor == "Heidelberg" and st.connectors[1].session is not None
        # on MQTT like every charger (docs/mqtt.md: {p}/{site}/ev/{charger}/state)
        assert await until(r.clock, lambda: r.states.get("esco/t-modbus/ev/WB01/state", {})
                           .get("connectors", {}).get("1", {}).get("status") == "Charging",
                           30)
        state = r.states["esco/t-modbus/ev/WB01/state"]
        assert state["online"] is True and state["smart_charging"] is True
        assert state["connectors"]["1"]["limit_kw"] == pytest.approx(6.0, abs=0.07)
        alloc = r.states["esco/t-modbus/ev/allocation"]
        assert alloc["limits_kw"]["WB01/1"] == pytest.approx(6.0, abs=0.07)
        # the box's meter counts what the car took
        energy = st.connectors[1].energy_wh
        assert energy is not None
        assert await until(r.clock, lambda: (st.connectors[1].energy_wh or 0) > energy, 30)

        # the gateway dies: the watchdog runs out and the box falls to its fail-safe
        await r.stop_gateway()
        assert await until(r.clock, lambda: r.box.in_failsafe, 60)
        assert r.box.limit_a == 7.5
        assert r.box.draw_kw == pytest.approx(7.5 * KW_PER_A)
        assert r.box.draw_kw <= FAILSAFE_KW


async def test_a_wallbox_that_does_not_answer_counts_at_its_last_limit_until_its_watchdog_ran_out(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Silent, the box may still hold its last limit (9 A, 5.94 kW, above its 5 kW
    share) until its watchdog (20 s) has run out since its last answer: counted at that,
    then at its share."""
    async with rig(tmp_path) as r:
        st = r.park.cs.chargers["WB01"]
        sup = r.park.supervisor
        assert await until(r.clock, lambda: "WB01" in sup.failsafe_sent
                           and r.register("current_limit_a") == 9.0
                           and st.connectors[1].status == "Charging", 120)
        share = sup.plan.shares["WB01"]
        assert share == 5.0
        with caplog.at_level(logging.INFO, "escogw.ev"):
            r.sim.set_fault("wallbox-p1", {"kind": "no_reply"})
            assert await until(r.clock, lambda: not st.online, 60)
            n = len(r.allocs)
            assert await until(r.clock, lambda: r.uncontrolled_since(n)[-1:] == [share], 60)
            seen = r.uncontrolled_since(n)
            assert seen[0] == round(9.0 * KW_PER_A, 2)
            assert seen == sorted(seen, reverse=True)  # the limit, then the share
            assert "WB01" not in sup.failsafe_sent
            r.sim.set_fault("wallbox-p1", {"kind": "none"})
            # back: set up again (fail-safe, watchdog, limit) within a cycle or two
            assert await until(r.clock, lambda: st.online and st.boots == 2
                               and "WB01" in sup.failsafe_sent
                               and st.connectors[1].limit_kw is not None, 60)
        assert "Modbus charger WB01 (device wallbox-p1) does not answer" in caplog.text
        assert "counted as metered load at its last limit or its fail-safe share" \
            in caplog.text
        assert await until(r.clock, lambda: r.register("current_limit_a") == 9.0, 60)


async def test_a_wallbox_whose_state_is_unreadable_is_online_and_counted_at_its_limit(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A state code outside the profile's enum: the box answers, so it is not offline at
    its share (5 kW) while it draws its last limit (9 A, 5.94 kW); the gateway does not
    steer what it cannot see, and counts it at that limit."""
    async with rig(tmp_path) as r:
        st = r.park.cs.chargers["WB01"]
        assert await until(r.clock, lambda: r.register("current_limit_a") == 9.0
                           and st.power_kw > 5.0, 120)
        with caplog.at_level(logging.WARNING, "escogw.ev"):
            r.box.odd_state = 12
            assert await until(r.clock, lambda: st.uncontrollable == "state unreadable", 30)
            n = len(r.allocs)
            assert await until(r.clock, lambda: len(r.uncontrolled_since(n)) > 1, 30)
        assert st.online and st.boots == 1 and st.connectors[1].session is not None
        assert set(r.uncontrolled_since(n)) == {round(9.0 * KW_PER_A, 2)}
        assert "Modbus charger WB01 answers but its state is unreadable" in caplog.text
        r.box.odd_state = None
        assert await until(r.clock, lambda: st.controllable, 30)
        assert st.connectors[1].status == "Charging" and st.boots == 1


async def test_a_wallbox_that_refuses_its_fail_safe_is_never_raised_and_counted_at_its_limit(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The box does not take the fail-safe current (its read-back shows 0): it is
    uncontrollable, as an OCPP charger that rejects a profile, its limit untouched (its
    power-up 16 A), and the allocator counts it at that: 10.56 kW."""
    with caplog.at_level(logging.ERROR, "escogw.ev"):
        async with rig(tmp_path, ignores=frozenset({"failsafe_current_a"})) as r:
            st = r.park.cs.chargers["WB01"]
            assert await until(r.clock, lambda: st.uncontrollable is not None, 60)
            assert st.uncontrollable == "failsafe_current_a refused" and st.online
            n = len(r.allocs)
            assert await until(r.clock, lambda: len(r.uncontrolled_since(n)) > 1, 30)
            assert set(r.uncontrolled_since(n)) == {round(16.0 * KW_PER_A, 2)}
            assert "WB01" not in r.park.supervisor.failsafe_sent
            assert r.register("current_limit_a") == 16.0
    assert "Modbus charger WB01: failsafe_current_a = 7.5 refused" in caplog.text


async def test_with_no_allocation_cycle_for_a_lease_the_wallbox_is_held_at_its_fail_safe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The polls keep the box's watchdog fed while the cycles fail: after
    ``failsafe_after_s`` without a good cycle the gateway writes the fail-safe current
    as its limit, and the car park's progress (the systemd watchdog's) stands still."""
    async with rig(tmp_path) as r:
        sup = r.park.supervisor
        assert await until(r.clock, lambda: r.register("current_limit_a") == 9.0, 120)

        def broken(now: float) -> float:
            raise RuntimeError("a bug in the budget")

        monkeypatch.setattr(sup, "budget", broken)
        assert await until(r.clock, lambda: r.register("current_limit_a") == 7.5, 60)
        assert sup.fallen_back and not r.box.in_failsafe
        assert sup.progress() == sup.progress()
        monkeypatch.undo()
        assert await until(r.clock, lambda: r.register("current_limit_a") == 9.0, 60)
        assert not sup.fallen_back and sup.progress() != sup.progress()


async def test_the_rule_files_reserve_reaches_the_wallbox_outside_the_comfort_windows(
        tmp_path: Path) -> None:
    """``reserve_kw`` (the rule file's charging section): at 10:00, outside its
    ``comfort_first`` window, the chargers keep 8 kW although the rest of the site leaves
    them 6; once a reload puts 10:00 in a comfort window they yield to the 6 kW again."""
    reserve = compile_charging(ChargingRulesSpec(comfort_first=["13:00-24:00"],
                                                 reserve_kw=8))
    comfort = compile_charging(ChargingRulesSpec(comfort_first=["08:00-24:00"],
                                                 reserve_kw=8))
    in_force = [reserve]
    async with rig(tmp_path, rules=lambda: (in_force[0], None)) as r:
        # 8 kW → 12.12 A → 12.1 A per phase
        assert await until(r.clock, lambda: r.register("current_limit_a") == 12.1, 120)
        assert await until(r.clock, lambda: r.box.draw_kw == pytest.approx(12.1 * KW_PER_A),
                           30)
        sup = r.park.supervisor

        def budget() -> float:
            return sup.last.budget_kw if sup.last is not None else -1.0

        assert budget() == pytest.approx(8.0)
        in_force[0] = comfort
        assert await until(r.clock, lambda: r.register("current_limit_a") == 9.0, 60)
        assert await until(r.clock, lambda: budget() == pytest.approx(6.0, abs=0.05), 30)


async def test_a_wallbox_that_restarts_with_its_defaults_is_set_up_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with rig(tmp_path) as r:
        assert await until(r.clock, lambda: r.register("current_limit_a") == 9.0
                           and r.register("failsafe_current_a") == 7.5, 120)
        with caplog.at_level(logging.WARNING, "escogw.ev"):
            # a power cut: the register table's power-up values (16 A, no fail-safe,
            # 15 s watchdog, standby on)
            box = r.box
            box.limit_a, box.failsafe_a, box.watchdog_s, box.standby = 16.0, 0.0, 15.0, 1
            r.sim.physics.sync()
            assert r.register("failsafe_current_a") == 0.0
            assert await until(r.clock, lambda: r.register("failsafe_current_a") == 7.5
                               and r.register("watchdog_timeout_s") == 20.0
                               and r.register("current_limit_a") == 9.0
                               and r.register("standby") == 0, 60)
        assert "Modbus charger WB01 lost its fail-safe settings (restarted?)" in caplog.text


# -- the supervisor's side, without sockets: what it counts a box at and what it writes


CONFIG = ChargingConfig.model_validate({
    "limit_kw": LIMIT_KW, "margin_kw": MARGIN_KW, "failsafe_kw": FAILSAFE_KW,
    "failsafe_after_s": 20, "cycle_s": 5, "circuits": {"carpark": {"max_kw": 50}},
    "chargers": {"WB01": {"modbus": {"device": "wb"}, "ac": {"phases": 3, "max_current_a": 16},
                          "circuit": "carpark"}}})


class NothingElse:
    """The site meter's window: nothing but the chargers."""

    def window_so_far(self, now: float) -> tuple[float, float, float] | None:
        return 0.0, 0.0, 0.0


class Box:
    """The acquisition's write queue in front of a box that takes every write but,
    while ``lost`` holds a point, never gets it (it expires in the queue)."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, float]] = []
        self.lost: set[str] = set()

    async def write(self, device_id: str, point_name: str, value: Value, *,
                    ttl_s: float | None = None, verify: bool = True) -> WriteOutcome:
        if point_name in self.lost:
            return WriteOutcome(False, "expired before it could be applied")
        assert isinstance(value, float | int)
        self.writes.append((point_name, float(value)))
        return WriteOutcome(True, None, value)


async def _quiet(topic: str, payload: bytes) -> None:
    return None


def service(writer: Box | None) -> ChargingService:
    clock = scaled_clock("2026-07-15T10:00:00", SPEED)
    profile = ProfileLibrary().get("heidelberg-energy-control")
    return ChargingService(CONFIG, clock, NothingElse(), LIMIT_KW, topic_prefix="esco/t",
                           set_state=_quiet, send=_quiet, writer=writer,
                           profiles={"wb": profile})


async def test_a_declared_wallbox_never_heard_from_counts_at_its_fail_safe_share() -> None:
    """It may sit in its fail-safe (drawing its share) with the gateway just started, or
    run without the acquisition."""
    for writer in (Box(), None):
        park = service(writer)
        alloc = await park.supervisor.cycle()
        assert alloc.uncontrolled_kw == FAILSAFE_KW == park.supervisor.plan.shares["WB01"]
        assert alloc.budget_kw == LIMIT_KW - MARGIN_KW


async def test_a_wallbox_whose_fail_safe_is_not_in_place_gets_no_more_than_its_share() -> None:
    """The fail-safe write was lost (not refused: the box stays steerable): the limit is
    held at the share (7.5 A), not the 16 A the budget allows, until it is in place."""
    box = Box()
    box.lost.add("failsafe_current_a")
    park = service(box)
    assert park.modbus is not None
    park.modbus.on_reading(Reading("wb", park.clock.now(), 1, values={
        "charge_state": CHARGE_STATE_CODES["b1"], "active_power_kw": 0.0,
        "energy_import_kwh": 10.0, "current_limit_a": 16.0}))
    sup = park.supervisor
    await sup.cycle()
    st = park.cs.chargers["WB01"]
    assert st.controllable and "WB01" not in sup.failsafe_sent
    assert box.writes[-1] == ("current_limit_a", 7.5)
    box.lost.clear()
    await sup.cycle()
    assert "WB01" in sup.failsafe_sent
    assert box.writes[-1] == ("current_limit_a", 16.0)


async def test_the_gateway_stops_with_a_failure_when_the_car_park_service_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """With the car park gone the polls would keep the wall boxes' watchdogs fed at their
    last limits: the gateway stops and exits with a failure, for systemd to restart it
    (and the boxes fall to their fail-safe meanwhile). Its cycles are watched too."""

    async def ends(self: ChargingService) -> None:
        raise RuntimeError("the car park broke")

    site = load_site(wallbox_site(tmp_path))
    settings = GatewaySettings(mqtt=MqttSettings(port=free_port(), client_id="ev-ends"),
                               outbox=OutboxSettings(path=tmp_path / "outbox.sqlite"),
                               metrics=MetricsSettings(enabled=False))
    assert "ev" in Gateway(site, settings).progress()
    monkeypatch.setattr(ChargingService, "run", ends)
    with caplog.at_level(logging.ERROR, "escogw"):
        code = await asyncio.wait_for(run(site, settings), 60)
    assert code == FAILED_EXIT
    assert "ev ended: RuntimeError('the car park broke'): stopping the gateway" in caplog.text


async def test_a_car_park_that_fails_while_the_gateway_stops_is_no_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM stops every task; one that raises on its way out is not a reason to exit 1."""
    running = asyncio.Event()

    async def fails_on_cancel(self: ChargingService) -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("closing the central system failed")

    monkeypatch.setattr(ChargingService, "run", fails_on_cancel)
    site = load_site(wallbox_site(tmp_path))
    gw = Gateway(site, GatewaySettings(
        mqtt=MqttSettings(port=free_port(), client_id="ev-stops"),
        outbox=OutboxSettings(path=tmp_path / "outbox.sqlite"),
        metrics=MetricsSettings(enabled=False)))
    await gw.start()
    await running.wait()
    await gw.stop()
    assert gw.failure is None and not gw.stop_requested.is_set()
