"""The in-process stream of readings that the outbox and the control loop consume.

Lossless subscribers (the outbox) apply back-pressure: the poller waits for
room rather than dropping a reading. Lossy subscribers (live views) keep the
newest readings and count what they dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gateway.acquisition.reading import Reading


class Subscription:
    def __init__(self, maxsize: int, lossy: bool):
        self.queue: asyncio.Queue[Reading] = asyncio.Queue(maxsize)
        self.lossy = lossy
        self.dropped = 0

    async def put(self, reading: Reading) -> None:
        if self.lossy and self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        await self.queue.put(reading)

    async def get(self) -> Reading:
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[Reading]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Reading]:
        while True:
            yield await self.queue.get()


class ReadingStream:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        #: newest reading per device, for the control loop and the CLI
        self.latest: dict[str, Reading] = {}

    def subscribe(self, maxsize: int = 10_000, lossy: bool = False) -> Subscription:
        sub = Subscription(maxsize, lossy)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.remove(sub)

    async def publish(self, reading: Reading) -> None:
        self.latest[reading.device] = reading
        for sub in self._subs:
            await sub.put(reading)
