"""Read planning: coalescing invariants on every shipped profile, and learning from refusals."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.acquisition.planner import DevicePlan, ReadBlock, Transport, plan_reads
from gateway.core.profile import Point, Profile, available_profiles, load_profile, profile_path
from gateway.core.profile_spec import BIT_TABLES, TABLES, RegisterRange
from gateway.core.semantics import STANDARD_POINTS

METER_NAMES = [n for n, s in STANDARD_POINTS.items() if "meter" in s.kinds and s.codes is None]
TRANSPORTS: tuple[Transport, ...] = ("rtu", "rtu-over-tcp", "tcp")


def write_profile(folder: Path, points: dict[str, dict[str, Any]], *, kind: str = "meter",
                  name: str = "tiny", **extra: Any) -> Profile:
    """A tiny profile file in ``folder``, loaded the way drivers/ files are."""
    doc = {"vendor": "Test", "model": name, "kind": kind, "source": {"document": "test"},
           "points": points, **extra}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_profile(path)


def u16_meter(folder: Path, addresses: Iterable[int], **extra: Any) -> Profile:
    """A meter with one u16 input point at each address (named in address order)."""
    points = {n: {"table": "input", "address": a, "type": "u16"}
              for n, a in zip(METER_NAMES, sorted(addresses), strict=False)}
    return write_profile(folder, points, **extra)


def starts(blocks: Iterable[ReadBlock]) -> list[tuple[int, int]]:
    return [(b.start, b.count) for b in blocks]


def holes(block: ReadBlock) -> list[int]:
    used = {a for p in block.points for a in range(p.address, p.end + 1)}
    return [a for a in range(block.start, block.end + 1) if a not in used]


def in_ranges(table: str, address: int, ranges: Sequence[RegisterRange]) -> bool:
    return any(r.table == table and r.start <= address <= r.end for r in ranges)


def check_blocks(blocks: Sequence[ReadBlock], points: Iterable[Point], *, max_registers: int,
                 max_bits: int, no_bridge: Sequence[RegisterRange],
                 implemented: Sequence[RegisterRange] | None) -> None:
    """The planner's contract: every point read whole exactly once, within every limit."""
    order = [(TABLES.index(b.table), b.start) for b in blocks]
    assert order == sorted(order), "blocks not in table, address order"
    for a, b in itertools.pairwise(blocks):
        assert a.table != b.table or a.end < b.start, f"{a} overlaps {b}"
    planned = [p for b in blocks for p in b.points]
    assert sorted(p.name for p in planned) == sorted(p.name for p in points)
    for b in blocks:
        assert [p.address for p in b.points] == sorted(p.address for p in b.points)
        assert all(p.table == b.table and b.start <= p.address and p.end <= b.end
                   for p in b.points), f"{b} splits a value"
        assert b.start == b.points[0].address, "a block starts on a point"
        assert b.end == max(p.end for p in b.points), "a block ends on a point"
        limit = max_bits if b.table in BIT_TABLES else max_registers
        assert b.count <= limit, f"{b} is longer than {limit}"
        for hole in holes(b):
            assert not in_ranges(b.table, hole, no_bridge), f"{b} bridges no_bridge {hole}"
            assert implemented is None or in_ranges(b.table, hole, implemented), \
                f"{b} bridges unimplemented {hole}"
        assert b.function == {"coil": 1, "discrete": 2, "holding": 3, "input": 4}[b.table]


def check_plan(plan: DevicePlan) -> None:
    active = [p for name, p in plan.profile.points_for(plan.index).items()
              if name not in plan.disabled_points]
    check_blocks(plan.blocks, active, max_registers=plan.max_registers,
                 max_bits=plan.max_bits, no_bridge=plan.profile.no_bridge(plan.index),
                 implemented=plan.profile.implemented(plan.index))
    assert plan.requests_per_cycle == len(plan.blocks)
    assert plan.naive_requests == len(active)


def check_meter_plan(plan: DevicePlan) -> None:
    """A meter's plan: one read per DI, holding every point of that DI inside its bytes."""
    dis = [b.start for b in plan.blocks]
    assert len(dis) == len(set(dis))
    assert sorted(p.name for b in plan.blocks for p in b.points) == sorted(plan.profile.points)
    for block in plan.blocks:
        for point in block.points:
            assert point.address == block.start
            assert point.value_at + point.count <= block.count
    assert plan.requests_per_cycle <= plan.naive_requests


def test_a_refused_di_disables_its_points_only() -> None:
    plan = DevicePlan(load_profile(profile_path("generic-dlt645-2007")))
    [block] = [b for b in plan.blocks if b.start == 0x02800002]
    plan.on_exception(block, 0x02)
    assert "frequency_hz" in plan.disabled_points
    assert "refuses DI 02800002" in plan.failed_points()["frequency_hz"]
    assert len(plan.blocks) == len(load_profile(profile_path("generic-dlt645-2007")).points) - 1


Answer = Callable[[ReadBlock], int | None]


def settle(plan: DevicePlan, answer: Answer, rounds: int = 500) -> list[tuple[str, int, int]]:
    """Poll a fake device until no read fails; the reads it refused, in order.

    Fails if the plan ever sends a read the device has already refused.
    """
    refused: list[tuple[str, int, int]] = []
    for _ in range(rounds):
        for block in plan.blocks:
            code = answer(block)
            if code is not None:
                key = (block.table, block.start, block.count)
                assert key not in refused, f"retried the identical failing read {key}"
                refused.append(key)
                plan.on_exception(block, code)
                break
        else:
            return refused
    raise AssertionError("the plan never settled")


def refuses(forbidden: Iterable[int], code: int = 0x02) -> Answer:
    bad = set(forbidden)
    return lambda b: code if any(b.start <= a <= b.end for a in bad) else None


# -- shipped profiles ------------------------------------------------------------------


def shipped() -> list[str]:
    return available_profiles()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("profile_id", shipped())
def test_shipped_profile_plans_within_its_limits(profile_id: str, transport: Transport) -> None:
    profile = load_profile(profile_path(profile_id))
    if profile.protocol != "modbus":
        check_meter_plan(DevicePlan(profile, transport=transport))
        return
    layout = profile.per_unit
    indexes = [None] if layout is None else [layout.first, layout.first + layout.count - 1]
    for index in indexes:
        plan = DevicePlan(profile, index=index, transport=transport)
        assert not plan.disabled_points, "a shipped profile reads every point"
        check_plan(plan)
        assert plan.requests_per_cycle <= plan.naive_requests
        if transport == "tcp":
            rtu = DevicePlan(profile, index=index, transport="rtu")
            assert plan.requests_per_cycle <= rtu.requests_per_cycle


def test_sdm630_full_list_is_a_fifth_of_one_read_per_point() -> None:
    profile = load_profile(profile_path("eastron-sdm630"))
    plan = DevicePlan(profile, transport="rtu")
    assert plan.naive_requests == len(profile.points) >= 33
    assert plan.requests_per_cycle / plan.naive_requests <= 0.2
    assert all(b.count <= 80 and b.count % 2 == 0 and b.start % 2 == 0 for b in plan.blocks)
    # modbus.md §4: the 0..0x57 run exceeds 80 registers; 0xCE..0xDF (18) exceeds gap 16.
    assert starts(plan.blocks) == [(0x00, 80), (0x54, 4), (0xC8, 6), (0xE0, 22), (0x156, 2)]


def test_subset_of_points() -> None:
    profile = load_profile(profile_path("eastron-sdm630"))
    plan = DevicePlan(profile, points=["energy_import_kwh", "frequency_hz", "voltage_l1_v"])
    assert starts(plan.blocks) == [(0x00, 2), (0x46, 4)]
    assert {p.name for p in plan.blocks[1].points} == {"energy_import_kwh", "frequency_hz"}
    assert plan.naive_requests == 3
    with pytest.raises(ValueError, match="no point"):
        DevicePlan(profile, points=["volume_m3"])


# -- plan_reads ------------------------------------------------------------------------


def test_gap_and_length_limits(tmp_path: Path) -> None:
    profile = u16_meter(tmp_path, [0, 5, 11, 20])  # holes of 4, 5, 8
    pts = list(profile.points.values())

    def plan(**kw: Any) -> list[tuple[int, int]]:
        args: dict[str, Any] = {"max_registers": 125, "max_bits": 2000, "max_gap": 5,
                                "no_bridge": [], **kw}
        return starts(plan_reads(pts, **args))

    assert plan() == [(0, 12), (20, 1)]
    assert plan(max_gap=4) == [(0, 6), (11, 1), (20, 1)]
    assert plan(max_gap=8) == [(0, 21)]
    assert plan(max_gap=8, max_registers=12) == [(0, 12), (20, 1)]
    assert plan(max_gap=8, max_registers=11) == [(0, 6), (11, 10)]
    assert plan(max_gap=0) == [(0, 1), (5, 1), (11, 1), (20, 1)]


def test_values_are_atomic_and_overlaps_merge(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, {
        "voltage_l1_v": {"table": "holding", "address": 0, "type": "f32"},
        "voltage_l2_v": {"table": "holding", "address": 2, "type": "f64"},
        "voltage_l3_v": {"table": "holding", "address": 6, "type": "u16"},
    })
    v1, v2, v3 = profile.points.values()
    ghost = v3.at(3)  # overlaps the middle of the f64 at 2..5
    blocks = plan_reads([v3, v2, v1, v1, ghost], max_registers=5, max_bits=2000, max_gap=16,
                        no_bridge=[])
    # 0..1 and 2..5 do not fit in 5 registers together; the f64 is never cut.
    assert starts(blocks) == [(0, 2), (2, 5)]
    assert [p.name for p in blocks[1].points] == ["voltage_l2_v", "voltage_l3_v",
                                                  "voltage_l3_v"]
    assert [p.address for p in blocks[1].points] == [2, 3, 6]
    assert len(blocks[0].points) == 1, "the same point twice is read once"


def test_value_longer_than_the_limit_gets_its_own_block(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, {
        "voltage_l1_v": {"table": "holding", "address": 0, "type": "u16"},
        "voltage_l2_v": {"table": "holding", "address": 1, "type": "u64"},
        "voltage_l3_v": {"table": "holding", "address": 5, "type": "u16"},
    }, link={"max_read_registers": 3})
    blocks = plan_reads(profile.points.values(), max_registers=3, max_bits=2000, max_gap=16,
                        no_bridge=[])
    assert starts(blocks) == [(0, 1), (1, 4), (5, 1)]
    plan = DevicePlan(profile)
    assert "voltage_l2_v" in plan.failed_points()
    assert "at most 3" in plan.failed_points()["voltage_l2_v"]
    assert starts(plan.blocks) == [(0, 1), (5, 1)]


def test_no_bridge_and_implemented(tmp_path: Path) -> None:
    profile = u16_meter(tmp_path, [0, 4, 8, 12])
    pts = list(profile.points.values())

    def plan(no_bridge: list[tuple[int, int]], implemented: list[tuple[int, int]] | None
             ) -> list[tuple[int, int]]:
        nb = [RegisterRange(table="input", start=a, end=b) for a, b in no_bridge]
        impl = None if implemented is None else \
            [RegisterRange(table="input", start=a, end=b) for a, b in implemented]
        return starts(plan_reads(pts, max_registers=125, max_bits=2000, max_gap=16,
                                 no_bridge=nb, implemented=impl))

    assert plan([], None) == [(0, 13)]
    assert plan([(6, 6)], None) == [(0, 5), (8, 5)]
    assert plan([(1, 3), (9, 9)], None) == [(0, 1), (4, 5), (12, 1)]
    # no_bridge of another table does not matter
    assert starts(plan_reads(pts, max_registers=125, max_bits=2000, max_gap=16,
                             no_bridge=[RegisterRange(table="holding", start=6, end=6)])) \
        == [(0, 13)]
    assert plan([], [(0, 12)]) == [(0, 13)]
    assert plan([], [(0, 5), (6, 12)]) == [(0, 13)], "touching ranges join"
    assert plan([], [(0, 4), (6, 12)]) == [(0, 5), (8, 5)]
    assert plan([], [(0, 0), (4, 4), (8, 8), (12, 12)]) == [(0, 1), (4, 1), (8, 1), (12, 1)]


def test_bit_tables_use_a_bit_gap_and_table_order(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, {
        "filter_alarm": {"table": "coil", "address": 0, "type": "bits"},
        "window_open": {"table": "coil", "address": 256, "type": "bits"},
        "occupied": {"table": "discrete", "address": 0, "type": "bits"},
        "room_temp_c": {"table": "input", "address": 0},
        "setpoint_c": {"table": "holding", "address": 0, "access": "rw", "min": 16, "max": 30},
    }, kind="hvac")
    pts = list(profile.points.values())
    random.Random(1).shuffle(pts)
    blocks = plan_reads(pts, max_registers=125, max_bits=2000, max_gap=16, no_bridge=[])
    assert [(b.table, b.start, b.count) for b in blocks] == [
        ("coil", 0, 257), ("discrete", 0, 1), ("holding", 0, 1), ("input", 0, 1)]
    assert [b.function for b in blocks] == [1, 2, 3, 4]
    blocks = plan_reads(pts, max_registers=125, max_bits=2000, max_gap=15, no_bridge=[])
    assert starts(b for b in blocks if b.table == "coil") == [(0, 1), (256, 1)]
    blocks = plan_reads(pts, max_registers=125, max_bits=200, max_gap=16, no_bridge=[])
    assert starts(b for b in blocks if b.table == "coil") == [(0, 1), (256, 1)]


def test_tcp_bridges_up_to_the_read_length(tmp_path: Path) -> None:
    profile = u16_meter(tmp_path, [0, 40, 100, 130], link={"max_read_registers": 120})
    assert starts(DevicePlan(profile, transport="rtu").blocks) == \
        [(0, 1), (40, 1), (100, 1), (130, 1)]
    assert starts(DevicePlan(profile, transport="rtu-over-tcp").blocks) == \
        starts(DevicePlan(profile, transport="rtu").blocks)
    tcp = DevicePlan(profile, transport="tcp")
    assert tcp.max_gap == 120
    assert starts(tcp.blocks) == [(0, 101), (130, 1)]
    assert tcp.registers_per_cycle == 102
    assert tcp.naive_requests == 4


def test_per_unit_profile_plans_at_the_units_addresses(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, {
        "mode": {"table": "holding", "address": 0, "access": "rw",
                 "enum": {"cool": 0, "heat": 1}},
        "setpoint_c": {"table": "holding", "address": 2, "scale": 0.1, "access": "rw",
                       "min": 16, "max": 30},
        "room_temp_c": {"table": "holding", "address": 6, "scale": 0.1},
        "filter_alarm": {"table": "holding", "address": 4},
    }, kind="hvac", per_unit={"base": 16, "stride": 16, "first": 1, "count": 8},
        no_bridge=[{"table": "holding", "start": 5, "end": 5}])
    plan = DevicePlan(profile, index=3)
    assert starts(plan.blocks) == [(48, 5), (54, 1)]
    check_plan(plan)
    plan = DevicePlan(profile, index=3, points=["room_temp_c", "mode"])
    assert starts(plan.blocks) == [(48, 1), (54, 1)]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_point_lists_keep_the_contract(tmp_path_factory: pytest.TempPathFactory,
                                              data: st.DataObject) -> None:
    types = st.sampled_from(["u16", "u32", "f32", "f64"])
    specs = data.draw(st.lists(st.tuples(st.integers(0, 400), types), min_size=1,
                               max_size=len(METER_NAMES)))
    points: dict[str, dict[str, Any]] = {}
    used: set[int] = set()
    widths = {"u16": 1, "u32": 2, "f32": 2, "f64": 4}
    for name, (address, dtype) in zip(METER_NAMES, specs, strict=False):
        span = set(range(address, address + widths[dtype]))
        if span & used:
            continue
        used |= span
        points[name] = {"table": "input", "address": address, "type": dtype}
    max_regs = data.draw(st.integers(4, 125))
    max_gap = data.draw(st.integers(0, 40))
    no_bridge = [{"table": "input", "start": a, "end": a + n}
                 for a, n in data.draw(st.lists(st.tuples(st.integers(0, 400),
                                                          st.integers(0, 5)), max_size=4))]
    profile = write_profile(tmp_path_factory.mktemp("p"), points, no_bridge=no_bridge,
                            link={"max_read_registers": max_regs, "max_gap_registers": max_gap})
    for transport in TRANSPORTS:
        check_plan(DevicePlan(profile, transport=transport))


# -- learning from refusals ------------------------------------------------------------


def test_02_isolates_the_bad_point_and_keeps_the_rest(tmp_path: Path) -> None:
    addresses = [0, 1, 2, 3, 6, 7, 10, 12, 13, 14, 20, 21, 22, 30]
    profile = u16_meter(tmp_path, addresses)
    bad = profile.points[METER_NAMES[addresses.index(12)]]
    plan = DevicePlan(profile)
    assert plan.requests_per_cycle == 1
    refused = settle(plan, refuses([12]))
    assert refused and len(refused) <= 8
    assert set(plan.failed_points()) == {bad.name}
    assert "exception 02" in plan.failed_points()[bad.name]
    planned = {p.name for b in plan.blocks for p in b.points}
    assert planned == set(profile.points) - {bad.name}
    assert all(not b.start <= 12 <= b.end for b in plan.blocks)
    check_plan(plan)


def test_02_on_a_hole_splits_there_and_disables_nothing(tmp_path: Path) -> None:
    profile = u16_meter(tmp_path, [0, 1, 2, 5, 6, 9, 14, 15])
    plan = DevicePlan(profile)
    refused = settle(plan, refuses([11]))  # an unimplemented register in the hole 10..13
    assert refused == [("input", 0, 16)]
    assert not plan.failed_points()
    assert starts(plan.blocks) == [(0, 10), (14, 2)]


def test_02_without_a_hole_bisects_by_points(tmp_path: Path) -> None:
    profile = u16_meter(tmp_path, range(12))
    plan = DevicePlan(profile)
    assert starts(plan.blocks) == [(0, 12)]
    # a device whose reads may not cross from page 0..5 into 6..11
    refused = settle(plan, lambda b: 2 if b.start <= 5 and b.end >= 6 else None)
    assert refused == [("input", 0, 12)]
    assert starts(plan.blocks) == [(0, 6), (6, 6)]
    assert not plan.failed_points()


@pytest.mark.parametrize("seed", range(20))
def test_02_random_bad_addresses_converge(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    addresses = sorted(rng.sample(range(120), 30))
    profile = u16_meter(tmp_path, addresses, link={"max_gap_registers": 20})
    bad = set(rng.sample(range(120), 4))
    plan = DevicePlan(profile)
    settle(plan, refuses(bad))
    by_address = {p.address: p.name for p in profile.points.values()}
    assert set(plan.failed_points()) == {by_address[a] for a in bad if a in by_address}
    planned = {p.name for b in plan.blocks for p in b.points}
    assert planned == {n for a, n in by_address.items() if a not in bad}
    assert all(not (bad & set(range(b.start, b.end + 1))) for b in plan.blocks)


def test_03_lowers_the_read_length(tmp_path: Path) -> None:
    profile = u16_meter(tmp_path, range(40))
    plan = DevicePlan(profile)
    assert starts(plan.blocks) == [(0, 40)]
    refused = settle(plan, lambda b: 3 if b.count > 10 else None)
    assert len(refused) <= 3, "halving reaches the real limit in log2 steps"
    assert plan.max_registers <= 10
    assert plan.max_registers >= 5
    assert not plan.failed_points()
    assert {p.name for b in plan.blocks for p in b.points} == set(profile.points)
    assert all(b.count <= 10 for b in plan.blocks)


def test_03_on_one_value_disables_it(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, {
        "voltage_l1_v": {"table": "input", "address": 0, "type": "u16"},
        "voltage_l2_v": {"table": "input", "address": 40, "type": "u64"},
    })
    plan = DevicePlan(profile)
    settle(plan, lambda b: 3 if b.count > 3 else None)
    assert list(plan.failed_points()) == ["voltage_l2_v"]
    assert starts(plan.blocks) == [(0, 1)]


def test_short_reply_splits_like_02(tmp_path: Path) -> None:
    profile = u16_meter(tmp_path, [0, 1, 2, 8, 9])
    plan = DevicePlan(profile)
    block = plan.blocks[0]
    plan.on_short_reply(block)
    assert starts(plan.blocks) == [(0, 3), (8, 2)]
    plan.on_short_reply(plan.blocks[1])
    plan.on_short_reply(plan.blocks[2])
    assert set(plan.failed_points()) == {METER_NAMES[4]}
    assert "short reply" in plan.failed_points()[METER_NAMES[4]]


def test_01_disables_the_function(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, {
        "voltage_l1_v": {"table": "input", "address": 0},
        "voltage_l2_v": {"table": "input", "address": 100},
        "ct_ratio": {"table": "holding", "address": 0},
    })
    plan = DevicePlan(profile)
    input_block = next(b for b in plan.blocks if b.table == "input")
    plan.on_exception(input_block, 0x01)
    assert set(plan.failed_points()) == {"voltage_l1_v", "voltage_l2_v"}
    assert all("function 04" in r and "01" in r for r in plan.failed_points().values())
    assert [(b.table, b.start) for b in plan.blocks] == [("holding", 0)]
    assert plan.naive_requests == 1


@pytest.mark.parametrize("code", [0x04, 0x05, 0x06, 0x0A, 0x0B])
def test_transient_codes_leave_the_plan_alone(tmp_path: Path, code: int) -> None:
    profile = u16_meter(tmp_path, [0, 1, 9])
    plan = DevicePlan(profile)
    before = plan.blocks
    plan.on_exception(before[0], code)
    assert plan.blocks == before
    assert not plan.failed_points()


def test_a_stale_block_is_ignored(tmp_path: Path) -> None:
    profile = u16_meter(tmp_path, [0, 1, 9])
    plan = DevicePlan(profile)
    old = plan.blocks[0]
    plan.on_exception(old, 0x02)
    after = plan.blocks
    plan.on_exception(old, 0x02)
    plan.on_short_reply(old)
    assert plan.blocks == after
    assert not plan.failed_points()


def test_learning_is_per_plan(tmp_path: Path) -> None:
    profile = u16_meter(tmp_path, range(8))
    first, second = DevicePlan(profile), DevicePlan(profile)
    first.on_exception(first.blocks[0], 0x02)
    assert len(first.blocks) == 2
    assert len(second.blocks) == 1
