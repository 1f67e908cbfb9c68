"""EV charging under the demand limit (docs/ev-charging.md).

`ev_windows_over_limit` (target 0) and `ev_energy_delivered_pct` (cars staying at least
4 h; target ≥ 95): the hot-day scenario of tests/ev/test_hot_day.py — the demo site's
building physics and rules (its control engine and demand limiter) with 18 × 11 kW AC and
2 × 60 kW DC simulated charge points over real websockets, the gateway's central system
and supervisor in the same process, a 120 kW limit, one simulated day from 07:00 to
19:15 on a scaled clock (about 2.5 minutes).

`ev_allocation_ms_200_connectors` (target ≤ 20 ms): one allocation (pure) over 200
plugged connectors on 10 circuits under a main feeder, three priority tiers, a budget
that binds; the median of 200 runs.

`ocpp_messages_per_s`: one central-system process, 100 simulated chargers in another,
each sending MeterValues back to back (every message schema-validated on both sides as
the ocpp library does); completed request/response pairs per second over 10 s.

    python -m bench ev
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.core.chargers import ChargingConfig, CircuitConfig
from gateway.core.clock import SystemClock
from gateway.ev.allocator import ConnectorDemand, allocate
from gateway.ev.central_system import CentralSystem
from simulators.ocpp.charge_point import SimChargePoint, SimChargerSpec
from tests.ev.test_hot_day import run_day
from tests.services import free_port

CHARGERS = 100
WINDOW_S = 10.0


def allocation_ms() -> float:
    rng = random.Random(3)
    circuits = {"main": CircuitConfig(max_kw=900)}
    circuits.update({f"c{i}": CircuitConfig(max_kw=120, parent="main") for i in range(10)})
    demands = [ConnectorDemand(f"cp{i // 2}", i % 2 + 1, f"c{i % 10}", rng.choice([0, 0, 5, 10]),
                               4.0, rng.choice([7.0, 11.0, 22.0]), True, True, 0.0,
                               rng.uniform(0, 22)) for i in range(200)]
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        allocate(demands, 700.0, circuits, ramp_kw=11.0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


def _central_system(port: int, ready: Any) -> None:
    cfg = ChargingConfig.model_validate({
        "failsafe_kw": 100, "host": "127.0.0.1", "port": port,
        "circuits": {"park": {"max_kw": 2000}},
        "chargers": {f"CP{i:03d}": {"ac": {"phases": 3, "max_current_a": 32},
                                    "circuit": "park"} for i in range(CHARGERS)}})

    async def main() -> None:
        cs = CentralSystem(cfg, SystemClock())
        await cs.serve()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def _flood(port: int) -> float:
    clock = SystemClock()
    sims = [SimChargePoint(SimChargerSpec(f"CP{i:03d}"), f"ws://127.0.0.1:{port}/ocpp", clock)
            for i in range(CHARGERS)]
    done = 0
    stop = asyncio.Event()

    async def one(sim: SimChargePoint) -> None:
        nonlocal done
        while not stop.is_set():
            await sim.send_meter_values()
            done += 1

    # the charge points' own connect-and-boot, without their physics: only the flood runs
    runners = [asyncio.ensure_future(s._session()) for s in sims]
    await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in sims)), 60)
    floods = [asyncio.ensure_future(one(s)) for s in sims]
    await asyncio.sleep(1.0)  # warm-up
    start, t0 = done, time.perf_counter()
    await asyncio.sleep(WINDOW_S)
    rate = (done - start) / (time.perf_counter() - t0)
    stop.set()
    for task in floods + runners:
        task.cancel()
    await asyncio.gather(*floods, *runners, return_exceptions=True)
    return rate


def messages_per_s() -> float:
    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_central_system, args=(port, ready), daemon=True)
    proc.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the central system did not start")
        return asyncio.run(_flood(port))
    finally:
        proc.terminate()
        proc.join(10)


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        day = asyncio.run(run_day(Path(tmp), speed=300.0))
    return {"ev_windows_over_limit": day["over"],
            "ev_energy_delivered_pct": round(day["delivered_pct"], 2),
            "ev_peak_window_kw": round(day["peak_kw"], 1),
            "ev_ac_peak_kw": round(day["ac_peak_kw"], 1),
            "ev_long_stays": day["long_stays"],
            "ev_binding_cycles": day["binding_cycles"],
            "ev_delivered_kwh": round(day["ev_kwh"], 1),
            "ev_allocation_ms_200_connectors": round(allocation_ms(), 3),
            "ocpp_messages_per_s": round(messages_per_s(), 1)}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
