"""The acquisition engine's cost and its use of a serial line, measured in one run.

`acq_cpu_us_per_point`, `acq_rss_mb_500_devices`: 500 SDM630 meters (30 points
each) behind 10 Modbus TCP gateways (50 unit ids each, as serial servers and
gateways are deployed), every meter polled every second. The simulators run in
their own process (`python -m simulators run`, wire time off); the acquisition
engine (the real AcquisitionEngine, SystemClock, one lossless stream subscriber
counting points) runs in a child process of its own, so its CPU time and RSS
are the engine's alone — not the whole gateway's: no outbox, MQTT, control or
energy accounting runs in it (the whole pipeline is bench_e2e's). After a
warm-up, CPU time (user + system) over a 10-second window is divided by the
points read in it; RSS (VmRSS) is taken at the end of the window. Targets:
≤ 20 µs per point, ≤ 80 MB.

`rtu_cycle_over_wire_bound`: an emulated 9600-baud RS-485 line (a pseudo-
terminal served by the simulators, wire time on: each reply leaves when the
line would deliver it) with three LG AC interfaces, an SDM630 and an ADL400.
Each device is polled once per cycle, back to back through the real
LinkScheduler; the figure is the cycle's wall time over the wire-time lower
bound of its requests: bus_budget's frames, two t3.5, the profile's turnaround
and minimum gap per read, less the silence counted twice — the minimum gap after a
reply (an SDM630's 60 ms) already includes the t3.5 that ends the reply, so each
read counts the longer of the two, not their sum. bus_budget keeps the sum: for
`escogw check` a budget that errs long is the safe side. Target ≤ 1.15; a gateway
with no overhead at all would score 1.

Also printed: `acq_readings_per_s_500_devices` (the poll rate achieved; 500 when
the engine keeps up) and `acq_failed_points_500_devices` (must be 0).

    python -m bench.bench_acquisition
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

# gateway.devservices and tests.processes are imported where used, by this (parent) process
# only: the spawned gateway child re-imports this module, and its RSS is a figure.
if TYPE_CHECKING:
    from tests.processes import Proc

LINKS = 10
UNITS_PER_LINK = 50
#: 30 of the SDM630's points: everything from voltage_l1_v (0x00) to max_demand_kw (0x56)
SDM630_POINTS = [
    "voltage_l1_v", "voltage_l2_v", "voltage_l3_v", "current_l1_a", "current_l2_a",
    "current_l3_a", "active_power_l1_kw", "active_power_l2_kw", "active_power_l3_kw",
    "apparent_power_l1_kva", "apparent_power_l2_kva", "apparent_power_l3_kva",
    "reactive_power_l1_kvar", "reactive_power_l2_kvar", "reactive_power_l3_kvar",
    "power_factor_l1", "power_factor_l2", "power_factor_l3", "voltage_avg_v", "current_avg_a",
    "active_power_kw", "apparent_power_kva", "reactive_power_kvar", "power_factor",
    "frequency_hz", "energy_import_kwh", "energy_export_kwh", "reactive_energy_import_kvarh",
    "demand_kw", "max_demand_kw",
]
WARMUP_S = 4.0
WINDOW_S = 10.0
RTU_CYCLES = 3


def _site(links: dict[str, Any], devices: dict[str, Any], wire_time: bool) -> dict[str, Any]:
    return {
        "site": {"id": "bench", "floor_area_m2": 50_000, "occupants": 2000},
        "links": links,
        "devices": devices,
        "simulation": {"seed": 1, "speed": 1, "step_s": 60, "day_kind": "workday",
                       "start": "2026-07-15T10:00:00", "wire_time": wire_time,
                       "rooms": {"r1": {"kind": "office", "floor_area_m2": 30, "occupants": 2}}},
    }


def site_500(folder: Path) -> Path:
    from devkit.services import free_port

    links = {f"gw{i}": {"transport": "tcp", "host": "127.0.0.1", "port": free_port(),
                        "timeout_s": 1.0} for i in range(LINKS)}
    devices = {f"m{i}-{unit}": {"link": f"gw{i}", "profile": "eastron-sdm630", "unit_id": unit,
                                "poll_interval_s": 1.0, "points": SDM630_POINTS,
                                "simulate": {"meter": "main"}}
               for i in range(LINKS) for unit in range(1, UNITS_PER_LINK + 1)}
    path = folder / "site-500.yaml"
    path.write_text(yaml.safe_dump(_site(links, devices, wire_time=False), sort_keys=False))
    return path


def site_rtu(folder: Path) -> Path:
    links = {"rs485": {"transport": "rtu", "device": str(folder / "tty-rs485"),
                       "baudrate": 9600, "parity": "N", "stopbits": 1, "timeout_s": 1.0}}
    devices: dict[str, Any] = {
        f"ac{unit}": {"link": "rs485", "profile": "lg-pdrycb500", "unit_id": unit,
                      "poll_interval_s": 10, "simulate": {"room": "r1", "power": True}}
        for unit in (1, 2, 3)}
    devices["main"] = {"link": "rs485", "profile": "eastron-sdm630", "unit_id": 4,
                       "poll_interval_s": 10, "points": SDM630_POINTS,
                       "simulate": {"meter": "main"}}
    devices["sub"] = {"link": "rs485", "profile": "acrel-adl400", "unit_id": 5,
                      "poll_interval_s": 10, "simulate": {"meter": "ac"}}
    path = folder / "site-rtu.yaml"
    path.write_text(yaml.safe_dump(_site(links, devices, wire_time=True), sort_keys=False))
    return path


@contextmanager
def simulators(site: Path) -> Iterator[Proc]:
    """`python -m simulators run --site FILE` in its own process, until the block ends;
    ready once it says "simulating site ..." (every server listens)."""
    from tests.processes import Proc

    proc = Proc([sys.executable, "-m", "simulators", "run", "--site", str(site),
                 "--log-level", "WARNING"], site.with_suffix(".log"))
    proc.start()
    try:
        proc.wait_log("simulating site", timeout=60)
        yield proc
    finally:
        proc.stop()


def _vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _measure_gateway(site_path: str, warmup_s: float, window_s: float) -> dict[str, float]:
    from gateway.acquisition.buses import AcquisitionEngine
    from gateway.core.clock import SystemClock
    from gateway.core.site import load_site

    engine = AcquisitionEngine(load_site(site_path), SystemClock())
    sub = engine.stream.subscribe(maxsize=100_000)
    tally = {"points": 0, "failed": 0, "readings": 0}
    counting = False

    async def consume() -> None:
        while True:
            reading = await sub.get()
            if counting:
                tally["points"] += len(reading.values)
                tally["failed"] += len(reading.failed)
                tally["readings"] += 1

    consumer = asyncio.create_task(consume())
    engine.start()
    await asyncio.sleep(warmup_s)
    counting = True
    cpu0, t0 = _cpu_s(), time.monotonic()
    await asyncio.sleep(window_s)
    cpu1, t1 = _cpu_s(), time.monotonic()
    counting = False
    rss = _vm_rss_mb()
    await engine.stop()
    consumer.cancel()
    if not tally["points"]:
        raise RuntimeError("no points read")
    return {"acq_cpu_us_per_point": (cpu1 - cpu0) / tally["points"] * 1e6,
            "acq_rss_mb_500_devices": rss,
            "acq_readings_per_s_500_devices": tally["readings"] / (t1 - t0),
            "acq_failed_points_500_devices": float(tally["failed"])}


def _gateway_child(site_path: str, warmup_s: float, window_s: float, conn: Connection) -> None:
    try:
        conn.send(asyncio.run(_measure_gateway(site_path, warmup_s, window_s)))
    except BaseException as exc:  # report anything to the parent
        conn.send(f"{type(exc).__name__}: {exc}")
        raise


def measure_500(folder: Path, warmup_s: float = WARMUP_S,
                window_s: float = WINDOW_S) -> dict[str, float]:
    site = site_500(folder)
    with simulators(site):
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        child = context.Process(target=_gateway_child, name="bench-gateway",
                                args=(str(site), warmup_s, window_s, theirs), daemon=True)
        child.start()
        if not ours.poll(warmup_s + window_s + 120):
            raise RuntimeError("gateway child gave no result")
        result = ours.recv()
        child.join(10)
    if isinstance(result, str):
        raise RuntimeError(f"gateway child failed: {result}")
    figures: dict[str, float] = result
    return figures


async def _rtu_cycles(site_path: Path, cycles: int) -> tuple[float, float]:
    """(median wall time of one full poll cycle, its wire-time lower bound), seconds."""
    from gateway.acquisition.bus_budget import link_budget, silent_interval_s
    from gateway.core.site import load_site

    site = load_site(site_path)
    budget = link_budget(site, "rs485")
    assert budget is not None
    t35 = silent_interval_s(budget.baudrate, budget.parity, budget.stopbits, budget.bytesize)
    # the gap after a reply includes that reply's closing t3.5: count the longer, once
    bound = sum(d.cycle_s - d.requests * min(
        t35, site.devices[d.device].profile.link.min_gap_ms / 1000) for d in budget.devices)
    return await median_cycle_s(site, "rs485", cycles, "the RTU line"), bound


async def median_cycle_s(site: Any, link_id: str, cycles: int, what: str) -> float:
    """Median wall time of one full poll cycle of every device on ``link_id`` (the first
    cycle, which opens the connection, not counted); fails on any failed point."""
    from gateway.acquisition.reading import Reading
    from gateway.acquisition.scheduler import LinkScheduler
    from gateway.acquisition.transports import make_link
    from gateway.core.clock import SystemClock

    failed: list[str] = []

    async def sink(reading: Reading) -> None:
        failed.extend(f"{reading.device}.{name}" for name in reading.failed)

    sched = LinkScheduler(make_link(link_id, site.spec.links[link_id]),
                          site.devices_on(link_id), SystemClock(), sink)
    pollers = list(sched.pollers.values())
    times = []
    try:
        for n in range(cycles + 1):
            start = time.monotonic()
            for poller in pollers:
                await sched.poll(poller)
            if n:
                times.append(time.monotonic() - start)
    finally:
        sched.link.close()
    if failed:
        raise RuntimeError(f"failed points on {what}: {failed[:5]}")
    return statistics.median(times)


def measure_rtu(folder: Path, cycles: int = RTU_CYCLES) -> dict[str, float]:
    site = site_rtu(folder)
    with simulators(site):
        cycle, bound = asyncio.run(_rtu_cycles(site, cycles))
    print(f"rtu cycle {cycle:.3f} s, wire-time lower bound {bound:.3f} s", file=sys.stderr)
    return {"rtu_cycle_over_wire_bound": cycle / bound}


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-acq-") as tmp:
        folder = Path(tmp)
        figures = measure_500(folder)
        figures.update(measure_rtu(folder))
    return figures


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    for name, value in run().items():
        print(f"{name}: {value:.4g}")


if __name__ == "__main__":
    main()
