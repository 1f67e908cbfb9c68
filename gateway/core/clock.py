"""The injected clock: every component asks it for the time and sleeps through it.

Storage and wire formats are UTC; schedules run in the site's timezone. Tests
and simulators swap in a scaled clock (a day in seconds) or a manual one
(time moves only when the test says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware, UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (simulated seconds for scaled clocks)."""
        ...

    def sleep(self, seconds: float) -> Awaitable[None]:
        """Sleep for ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Wall time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Simulated time running ``speed`` times faster than wall time from ``start``."""

    def __init__(self, start: datetime, speed: float = 1.0):
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not 0 < speed <= 100_000:
            raise ValueError("speed must be in (0, 100000]")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._real0 = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.speed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class ManualClock:
    """Time that moves only when ``advance`` is called; sleepers wake in deadline order."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.start = start.astimezone(UTC)
        self._t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._t

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._t)

    def sleep(self, seconds: float) -> asyncio.Future[None]:
        """The deadline is taken now, when called — not when the awaitable first runs —
        so a sleep wrapped in a task cannot miss an ``advance`` in between."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._t + max(0.0, seconds), next(self._seq), fut))
        return fut

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its deadline and letting it run."""
        target = self._t + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._t = max(self._t, deadline)
            if not fut.done():
                fut.set_result(None)
            for _ in range(5):  # let woken tasks run until they block again
                await asyncio.sleep(0)
        self._t = target
        for _ in range(5):
            await asyncio.sleep(0)


async def sleep_or_wake(clock: Clock, seconds: float, wake: asyncio.Event) -> None:
    """Sleep ``seconds`` on ``clock``, or less if ``wake`` is set meanwhile."""
    if wake.is_set():
        return
    if isinstance(clock, SystemClock | ScaledClock):
        # clocks that follow real time need no task of their own: a deadline on the
        # wait suffices (a link idles between polls, so this runs for every poll)
        real = max(0.0, seconds) / (clock.speed if isinstance(clock, ScaledClock) else 1.0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(real):
                await wake.wait()
        return
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waker.cancel()
