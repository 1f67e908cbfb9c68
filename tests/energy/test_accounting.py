"""Interval accounting from counters: a known day priced to the cent; wraps, meter swaps, gaps,
read noise and restarts neither create nor lose energy; the service in the gateway publishes
docs/mqtt.md ``energy/interval`` messages and keeps its state across a restart."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.acquisition.reading import Reading
from gateway.acquisition.stream import ReadingStream
from gateway.core.site import load_site
from gateway.core.tou import tariff_path
from gateway.energy.accounting import (
    Interval,
    IntervalAccountant,
    MeterSpec,
    main_meters,
    site_meters,
)
from gateway.energy.live import EnergyService
from gateway.energy.tariff import load_tariff, money
from gateway.uplink.messages import Topics
from tests.sitefiles import DEMO_SITE

TZ = ZoneInfo("Asia/Shanghai")
MIDNIGHT = datetime(2026, 7, 15, tzinfo=TZ)  # a Wednesday in July: critical 20-22 h
METER = MeterSpec("main-meter", "energy_import_kwh", "kwh")


def reading(t: datetime, value: float, seq: int = 0, device: str = "main-meter",
            point: str = "energy_import_kwh") -> Reading:
    return Reading(device, t.astimezone(UTC), seq, {point: value})


def run_counter(acc: IntervalAccountant, power_kw: Callable[[datetime], float],
                start: datetime, end: datetime, step: timedelta,
                counter0: float = 1000.0) -> tuple[list[Interval], float]:
    """Feed readings of a counter integrating ``power_kw`` (constant over each step);
    returns the closed intervals and the true energy."""
    out: list[Interval] = []
    value, true = counter0, 0.0
    t = start
    seq = 0
    out += acc.add(reading(t, value, seq))
    while t < end:
        kwh = power_kw(t) * step.total_seconds() / 3600
        value += kwh
        true += kwh
        t += step
        seq += 1
        out += acc.add(reading(t, value, seq))
    return out, true


def office_day(t: datetime) -> float:
    h = t.astimezone(TZ).hour
    return 10.0 if h < 8 else 50.0 if h < 12 else 30.0 if h < 14 else 60.0 if h < 18 else 12.0


def test_a_known_day_costs_what_the_hand_calculation_says() -> None:
    """Hubei, July, readings every minute, power (kW): 10 until 08:00, 50 until 12:00,
    30 until 14:00, 60 until 18:00, 12 after.

    flat   00-01 10 + 07-08 10 + 08-12 200 + 14-16 120 = 340 kWh × 0.65   = 221.00
    valley 01-07 60 + 12-14 60                         = 120 kWh × 0.2925 =  35.10
    peak   16-18 120 + 18-20 24 + 22-24 24             = 168 kWh × 0.9685 = 162.708
    sharp  20-22 24                                    =  24 kWh × 1.3    =  31.20
    total                                                652 kWh            450.008 → 450.01
    """
    acc = IntervalAccountant([METER], TZ, load_tariff(tariff_path("hubei-general-ic")))
    intervals, true = run_counter(acc, office_day, MIDNIGHT, MIDNIGHT + timedelta(days=1),
                                  timedelta(minutes=1))
    assert len(intervals) == 96 and all(i.quality == "good" for i in intervals)
    assert [i.start for i in intervals[:2]] == [MIDNIGHT.astimezone(UTC),
                                                MIDNIGHT.astimezone(UTC) + timedelta(minutes=15)]
    by_period: dict[str, float] = {}
    for i in intervals:
        assert i.period is not None
        by_period[i.period] = by_period.get(i.period, 0.0) + i.amount
    assert {p: round(v, 6) for p, v in by_period.items()} == \
        {"flat": 340.0, "valley": 120.0, "peak": 168.0, "sharp": 24.0}
    total = sum((i.cost for i in intervals if i.cost is not None), Decimal(0))
    assert abs(total - Decimal("450.008")) < Decimal("0.00001")
    assert money(total) == Decimal("450.01")
    assert round(sum(i.amount for i in intervals), 6) == round(true, 6) == 652.0
    # 15-minute demand = kWh × 4; the month's peak is carried along
    assert max(i.demand_kw or 0 for i in intervals) == pytest.approx(60.0)
    assert intervals[-1].month_peak_kw == pytest.approx(60.0)
    assert acc.month_peak("main-meter", "2026-07") == pytest.approx(60.0)


def test_constant_day_to_the_cent_with_irregular_reads() -> None:
    """40 kW all day in July: valley 320 × 0.2925 + flat 320 × 0.65 + peak 240 × 0.9685
    + sharp 80 × 1.3 = 93.60 + 208.00 + 232.44 + 104.00 = 638.04 CNY."""
    acc = IntervalAccountant([METER], TZ, load_tariff(tariff_path("hubei-general-ic")))
    rng = random.Random(3)
    out: list[Interval] = []
    t = MIDNIGHT - timedelta(seconds=20)
    value = 50.0
    end = MIDNIGHT + timedelta(days=1, seconds=30)
    while t <= end:
        out += acc.add(reading(t, value))
        dt = rng.uniform(3, 55)  # pollers are not punctual
        t += timedelta(seconds=dt)
        value += 40.0 * dt / 3600
    day = [i for i in out if MIDNIGHT <= i.start < MIDNIGHT + timedelta(days=1)]
    assert len(day) == 96
    for i in day:
        assert i.amount == pytest.approx(10.0, abs=1e-6)
    total = sum((i.cost for i in day if i.cost is not None), Decimal(0))
    assert money(total) == Decimal("638.04")
    assert out[0].quality == "partial"  # the interval the first reading fell into


def test_a_counter_wrap_neither_creates_nor_loses_energy() -> None:
    span = 65536 * 0.1  # a u16 register at 0.1 kWh
    spec = MeterSpec("m", "energy_import_kwh", "kwh", span=span)
    acc = IntervalAccountant([spec], TZ)
    true = 0.0
    raw = 6500.0
    out: list[Interval] = []
    t = MIDNIGHT
    out += acc.add(reading(t, raw, device="m"))
    for _ in range(180):  # 30 kW for three hours: 90 kWh, wrapping at 6553.6
        t += timedelta(minutes=1)
        true += 0.5
        raw = round((raw + 0.5) % span, 1)
        out += acc.add(reading(t, raw, device="m"))
    assert acc.wraps == 1 and acc.resets == 0
    assert round(sum(i.amount for i in out), 6) == round(true, 6) == 90.0
    assert all(i.amount == pytest.approx(7.5) and i.quality == "good" for i in out)


def test_a_meter_swap_neither_creates_nor_loses_energy() -> None:
    acc = IntervalAccountant([METER], TZ)
    out: list[Interval] = []
    t = MIDNIGHT
    old = 12345.6
    out += acc.add(reading(t, old))
    for _ in range(20):  # old meter: 0.5 kWh a minute
        t += timedelta(minutes=1)
        old += 0.5
        out += acc.add(reading(t, old))
    new = 0.0  # replaced at 00:20 by a new meter, read a minute later
    for _ in range(40):
        t += timedelta(minutes=1)
        new += 0.5
        out += acc.add(reading(t, new))
    assert acc.resets == 1
    assert round(sum(i.amount for i in out), 6) == 30.0  # 60 minutes × 0.5 kWh
    assert [i.quality for i in out] == ["good", "reset", "good", "good"]
    assert all(i.amount >= 0 for i in out)


def test_a_gap_spreads_over_the_missing_intervals() -> None:
    acc = IntervalAccountant([METER], TZ)
    out: list[Interval] = []
    value = 0.0
    t = MIDNIGHT + timedelta(hours=10)
    out += acc.add(reading(t, value))
    for minute in range(1, 91):  # 20 kW; nothing read from 10:05 to 10:50
        value += 20 / 60
        if 5 < minute < 51:
            continue
        out += acc.add(reading(t + timedelta(minutes=minute), value))
    assert [i.start.astimezone(TZ).strftime("%H:%M") for i in out] == \
        ["10:00", "10:15", "10:30", "10:45", "11:00", "11:15"]
    assert [i.quality for i in out] == ["interpolated"] * 4 + ["good"] * 2
    for i in out:  # linear between 10:05 and 10:51 at constant power: each gets its 5 kWh
        assert i.amount == pytest.approx(5.0, abs=1e-9)


def test_read_noise_and_stale_readings_count_nothing() -> None:
    acc = IntervalAccountant([METER], TZ)
    t = MIDNIGHT
    assert acc.add(reading(t, 1000.0)) == []
    assert acc.add(reading(t + timedelta(minutes=5), 999.9999)) == []  # a hair back: noise
    assert acc.add(reading(t + timedelta(minutes=6), 1001.5)) == []
    assert acc.add(reading(t + timedelta(minutes=4), 1234.0)) == []  # older than the anchor
    out = acc.add(reading(t + timedelta(minutes=16), 1004.0))
    assert acc.resets == 0 and acc.ignored == 1
    # 1.5 kWh in the first 6 minutes, then 2.5 kWh over 10 minutes, 9 of them in the
    # interval; readings 6 and 10 minutes apart are a gap (over 2 minutes): interpolated
    assert [(round(i.amount, 6), i.quality) for i in out] == [(3.75, "interpolated")]


def test_a_restart_resumes_from_the_saved_state() -> None:
    def run(split: bool) -> tuple[float, list[Interval]]:
        acc = IntervalAccountant([METER], TZ)
        out: list[Interval] = []
        value = 0.0
        for minute in range(0, 181):
            value += 0.2 if minute else 0.0
            if 60 < minute < 100:  # the gateway is down from 01:00 to 01:40
                continue
            if split and minute == 100:
                state = json.loads(json.dumps(acc.snapshot()))
                acc = IntervalAccountant([METER], TZ)
                assert acc.restore(state) == ["main-meter"]
            out += acc.add(reading(MIDNIGHT + timedelta(minutes=minute), value))
        return sum(i.amount for i in out), out

    whole, a = run(False)
    resumed, b = run(True)
    assert round(resumed, 6) == round(whole, 6) == 36.0
    assert [(i.start, i.amount, i.quality) for i in a] == [(i.start, i.amount, i.quality)
                                                           for i in b]


def test_site_meters_of_the_demo_site() -> None:
    specs = {m.device: m for m in site_meters(load_site(DEMO_SITE))}
    assert set(specs) == {"main-meter", "ac-meter", "water-meter", "revenue-meter",
                          "water-cjt188"}
    assert main_meters(list(specs.values()), "m3") == ["water-meter"]  # not the sub-meter
    assert specs["revenue-meter"].span == pytest.approx(1e6)  # BCD XXXXXX.XX wraps at 10⁶
    assert specs["water-meter"].unit == "m3" and specs["water-meter"].point == "volume_m3"
    assert specs["main-meter"].span is None  # float32 register: no wrap
    assert specs["ac-meter"].span == pytest.approx(2**32 * 0.1, rel=0, abs=1e-6)  # u32 × 0.1
    assert specs["main-meter"].tags["role"] == "main"


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.arrived = asyncio.Event()

    async def put(self, messages: list[tuple[str, bytes]],
                  seqs: dict[str, int] | None = None) -> int:
        self.messages += messages
        self.arrived.set()
        return 0


async def test_the_service_publishes_intervals_and_keeps_state(tmp_path: Path) -> None:
    site = load_site(DEMO_SITE)
    stream = ReadingStream()
    sink = Sink()
    topics = Topics("escogw", site.id)
    service = EnergyService.for_site(site, stream, sink, topics, tmp_path)
    task = asyncio.create_task(service.run())
    t = MIDNIGHT + timedelta(hours=16)  # peak
    for minute in range(0, 16):
        at = t + timedelta(minutes=minute)
        await stream.publish(reading(at, 100 + minute * 0.5, minute))
        await stream.publish(reading(at, 10 + minute * 0.01, minute, "water-meter",
                                     "volume_m3"))
    await asyncio.wait_for(sink.arrived.wait(), 5)
    while len(sink.messages) < 2:  # both meters' intervals close on the 16:15 reading
        sink.arrived.clear()
        await asyncio.wait_for(sink.arrived.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    bodies = {json.loads(p)["device"]: json.loads(p) for _, p in sink.messages}
    assert {topic for topic, _ in sink.messages} == {"escogw/demo-office/energy/interval"}
    assert bodies["main-meter"] == {
        "v": 1, "start": "2026-07-15T08:00:00.000Z", "end": "2026-07-15T08:15:00.000Z",
        "device": "main-meter", "kwh": 7.5, "period": "peak", "price": 0.9685,
        "cost": 7.26375, "demand_kw": 30.0, "month_peak_kw": 30.0,
        "tariff_version": "2024-01-consultation", "quality": "good"}
    assert bodies["water-meter"] == {
        "v": 1, "start": "2026-07-15T08:00:00.000Z", "end": "2026-07-15T08:15:00.000Z",
        "device": "water-meter", "m3": 0.15, "quality": "good"}
    state = json.loads((tmp_path / "energy-state.json").read_text())
    assert state["meters"]["main-meter"]["value"] == pytest.approx(107.5)
    # a restart: the next reading pairs with the saved anchor (nothing lost across it)
    again = EnergyService.for_site(site, ReadingStream(), sink, topics, tmp_path)
    closed = await again.account([reading(t + timedelta(minutes=45), 122.5, 99)])
    assert [(i.amount, i.quality) for i in closed] == [(7.5, "interpolated")] * 2


class BlockedSink:
    """An outbox whose put never returns: the accountant stalls on its first interval."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def put(self, messages: list[tuple[str, bytes]],
                  seqs: dict[str, int] | None = None) -> int:
        self.entered.set()
        await asyncio.Event().wait()
        return 0


async def test_accounting_that_blocks_never_stalls_polling() -> None:
    """The accountant is stuck in its outbox put; the poller keeps publishing readings (the
    accountant's subscription drops its oldest, counted) and the outbox's own lossless
    subscription gets every one.

    Mutant: ``EnergyService`` subscribing lossless (``lossy=False``) — the poller would wait
    for room behind the stuck accountant once its queue filled.
    """
    site = load_site(DEMO_SITE)
    stream = ReadingStream()
    outbox_side = stream.subscribe(maxsize=100_000)  # what the outbox writer reads
    sink = BlockedSink()
    service = EnergyService(site, stream, sink, Topics("escogw", site.id), None,
                            queue_size=8)
    task = asyncio.create_task(service.run())
    try:
        polled = 0

        async def poll(minutes: int) -> None:
            nonlocal polled
            for minute in range(minutes):
                polled += 1
                await stream.publish(reading(MIDNIGHT + timedelta(minutes=minute),
                                             100 + minute * 0.5, minute))

        await asyncio.wait_for(poll(20), 5)  # the 00:15 reading closes an interval
        await asyncio.wait_for(sink.entered.wait(), 5)
        await asyncio.wait_for(poll(500), 5)  # polling goes on behind the stuck accountant
        assert outbox_side.queue.qsize() == polled == 520
        assert service.sub.dropped >= 500 - 8
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_stop_during_the_outbox_put_leaves_the_intervals_to_the_restart(
        tmp_path: Path) -> None:
    """The stop cancels the accountant while it puts a closed interval into the outbox:
    the state must not be saved as if the interval had gone out, or the restart would
    never emit it. The restart, from the state before, emits it (interpolated)."""
    site = load_site(DEMO_SITE)
    stream = ReadingStream()
    topics = Topics("escogw", site.id)
    first = EnergyService.for_site(site, stream, Sink(), topics, tmp_path)
    # 23:50 then 00:00 close the 23:45 interval: the state is saved, anchored at 100 kWh
    await first.account([reading(MIDNIGHT - timedelta(minutes=10), 99.0, 0),
                         reading(MIDNIGHT, 100.0, 1)])
    blocked = BlockedSink()
    service = EnergyService.for_site(site, stream, blocked, topics, tmp_path)
    task = asyncio.create_task(service.run())
    await stream.publish(reading(MIDNIGHT + timedelta(minutes=16), 108.0, 2))
    await asyncio.wait_for(blocked.entered.wait(), 5)  # the 00:00-00:15 interval closed
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    state = json.loads((tmp_path / "energy-state.json").read_text())
    assert state["meters"]["main-meter"]["value"] == pytest.approx(100.0)
    again = EnergyService.for_site(site, ReadingStream(), Sink(), topics, tmp_path)
    closed = await again.account([reading(MIDNIGHT + timedelta(minutes=31), 116.0, 3)])
    assert [i.start for i in closed][:1] == [MIDNIGHT]


# --- edges that survived make mutation ---

def test_events_are_counted_every_time() -> None:
    span = 65536 * 0.1
    acc = IntervalAccountant([MeterSpec("m", "energy_import_kwh", "kwh", span=span)], TZ)
    t = MIDNIGHT
    for value in (6500.0, 10.0, 6500.0, 20.0, 5.0, 1.0):  # wrap, jump, wrap, reset, reset
        acc.add(Reading("m", t.astimezone(UTC), 0, {"energy_import_kwh": value}))
        t += timedelta(minutes=1)
    acc.add(Reading("m", MIDNIGHT.astimezone(UTC), 0, {"energy_import_kwh": 2.0}))  # replay
    assert (acc.wraps, acc.resets, acc.ignored) == (2, 2, 1)


@pytest.mark.parametrize("interval_s", [0, -900, 7 * 60])
def test_an_interval_must_divide_a_day(interval_s: int) -> None:
    with pytest.raises(ValueError, match=r"^interval_s must divide a day$"):
        IntervalAccountant([METER], TZ, interval_s=interval_s)


def test_one_second_intervals_are_allowed() -> None:
    assert IntervalAccountant([METER], TZ, interval_s=1).interval_s == 1


def test_a_state_of_another_version_or_interval_is_not_restored() -> None:
    acc = IntervalAccountant([METER], TZ)
    acc.add(reading(MIDNIGHT, 100.0))
    state = acc.snapshot()
    assert IntervalAccountant([METER], TZ).restore(state) == ["main-meter"]
    assert IntervalAccountant([METER], TZ).restore({**state, "v": 99}) == []
    assert IntervalAccountant([METER], TZ, interval_s=1800).restore(state) == []


def test_a_snapshot_restores_to_the_same_state_mid_interval() -> None:
    """Open intervals, the last emitted one, the month's peak and the anchor all survive a
    restart: the restored accountant's snapshot is the same, and so is what it emits next."""
    water = MeterSpec("water-meter", "volume_m3", "m3")
    acc = IntervalAccountant([METER, water], TZ, load_tariff(tariff_path("hubei-general-ic")))
    for minute in range(0, 38, 2):  # two closed intervals, the third one open
        t = MIDNIGHT + timedelta(minutes=minute)
        acc.add(reading(t, 100 + minute * (0.5 if minute < 15 else 0.2), minute))
        acc.add(reading(t, 10 + minute * 0.01, minute, "water-meter", "volume_m3"))
    state = json.loads(json.dumps(acc.snapshot()))
    assert state["meters"]["main-meter"]["open"] and state["meters"]["main-meter"]["peaks"]
    assert state["meters"]["main-meter"]["emitted"] is not None
    again = IntervalAccountant([METER, water], TZ, load_tariff(tariff_path("hubei-general-ic")))
    assert sorted(again.restore(state)) == ["main-meter", "water-meter"]
    assert json.loads(json.dumps(again.snapshot())) == state
    later = MIDNIGHT + timedelta(minutes=46)
    a = acc.add(reading(later, 120.0, 99))
    b = again.add(reading(later, 120.0, 99))
    assert [i.payload() for i in a] == [i.payload() for i in b] and a
    assert again.month_peak("main-meter", "2026-07") == acc.month_peak("main-meter", "2026-07")
    assert acc.month_peak("main-meter", "2026-07") is not None
    assert acc.month_peak("no-such-meter", "2026-07") is None
