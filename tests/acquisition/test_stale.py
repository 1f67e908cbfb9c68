"""A late reply is never taken for the answer to the next request.

The simulator's fault ``late`` holds the reply to request k and sends it when
request k+1 arrives: exactly the stale reply an RTU client cannot tell by its
bytes. The device here (a test profile) has two blocks of the same length at
different addresses holding different values, and the test changes every value
after each reading, so a stale reply would show up either as the other block's
values or as the previous cycle's. The gateway must report such points failed,
never wrong, and come back once the device answers in step again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.acquisition.health import DeviceState, HealthPolicy
from gateway.acquisition.reading import Reading
from simulators.modbus.faults import FaultSpec
from tests.acqsim import Rig, drivers_with, meter, write_site


def _u16(address: int) -> dict[str, Any]:
    return {"table": "holding", "address": address}


# Block A = holding 0..1, block B = holding 100..101: same function, same length.
TWIN_BLOCKS = {
    "vendor": "Test", "model": "Twin blocks", "kind": "meter",
    "source": {"document": "tests/acquisition/test_stale.py"},
    "link": {"max_read_registers": 125, "max_gap_registers": 16, "turnaround_ms": 2},
    "points": {"voltage_l1_v": _u16(0), "voltage_l2_v": _u16(1),
               "current_l1_a": _u16(100), "current_l2_a": _u16(101)},
    "implemented": [{"table": "holding", "start": 0, "end": 1},
                    {"table": "holding", "start": 100, "end": 101}],
}
BASE = {"voltage_l1_v": 1000, "voltage_l2_v": 1100, "current_l1_a": 2000, "current_l2_a": 2100}
LATE = FaultSpec(kind="late")


class Values:
    """Sets the device's registers to BASE + k and remembers when each k began."""

    def __init__(self, rig: Rig):
        self.rig = rig
        self.history: list[tuple[float, int]] = []
        self.k = 0
        self.set()

    def set(self) -> None:
        memory = self.rig.memory("m")
        for name, base in BASE.items():
            memory.set("m", name, base + self.k)
        self.history.append((self.rig.clock.monotonic(), self.k))

    def bump(self) -> None:
        self.k += 1
        self.set()

    def expected(self, r: Reading) -> dict[str, int]:
        """What the device held when the reading's poll began."""
        t = self.rig.at(r)
        k = max((k for at, k in self.history if at <= t), default=0)
        return {name: base + k for name, base in BASE.items()}


async def run_cycles(rig: Rig, values: Values, n: int) -> list[Reading]:
    out = []
    for _ in range(n):
        r = await rig.reading("m")
        out.append(r)
        values.bump()  # the next poll must see the new values, never these
    return out


def never_wrong(values: Values, readings: list[Reading]) -> None:
    for r in readings:
        want = values.expected(r)
        wrong = {n: (v, want[n]) for n, v in r.values.items() if v != want[n]}
        assert not wrong, f"seq {r.seq}: stale values accepted {wrong}"
        assert set(r.values) | set(r.failed) == set(BASE)


@pytest.mark.parametrize("transport", ["rtu", "rtu-over-tcp", "tcp"])
async def test_a_late_reply_is_never_taken_for_the_next_answer(
        tmp_path: Path, transport: str) -> None:
    library = drivers_with(tmp_path, {"test-twin-blocks": TWIN_BLOCKS})
    link: dict[str, Any] = {"transport": transport, "timeout_s": 0.08}
    if transport != "tcp":
        link.update(baudrate=19200, parity="N")
    path = write_site(tmp_path, {"bus": link},
                      {"m": meter(1, "test-twin-blocks", interval=0.05, turnaround_ms=2)})
    async with Rig(path, sim_library=library, gateway_library=library,
                   policy=HealthPolicy(offline_after=2, first_backoff_s=0.1,
                                       max_backoff_s=0.2)) as rig:
        values = Values(rig)
        rig.start()
        never_wrong(values, await run_cycles(rig, values, 3))
        link_stats = rig.engine.schedulers["bus"].link.stats

        # every other request is answered late: whichever block's reply is held, it
        # arrives as the apparent answer to the next request (same length, other
        # addresses or older values)
        switch = rig.sim.faults["bus"]
        plain = switch.get
        turn = [0]

        def every_other(unit: int) -> Any:
            turn[0] += 1
            return LATE if turn[0] % 2 else plain(unit)

        switch.get = every_other  # type: ignore[method-assign]
        mixed = await run_cycles(rig, values, 6)
        never_wrong(values, mixed)
        if transport != "tcp":
            assert link_stats.errors.get("stale_reply", 0) >= 1, link_stats

        # late all the time: nothing it says can be believed
        switch.get = plain  # type: ignore[method-assign]
        since = rig.clock.monotonic()
        rig.fault("m", kind="late")
        await rig.wait_for(lambda: rig.engine.poller("m").health.state == DeviceState.OFFLINE)
        late = await run_cycles(rig, values, 2)
        never_wrong(values, late)
        assert all(not r.values for r in rig.since("m", since)), \
            [r.values for r in rig.since("m", since)]

        # in step again: correct values, online
        rig.fault("m", kind="none")
        r = await rig.reading("m", lambda r: bool(r.values))
        never_wrong(values, [r, *await run_cycles(rig, values, 3)])
        assert r.values == values.expected(r)
        assert rig.engine.poller("m").health.state == DeviceState.ONLINE
