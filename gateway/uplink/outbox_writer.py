"""Moves readings from the in-process stream into the outbox, a batch per transaction.

The outbox's SQLite calls run on one worker thread (fsync must not stall the
event loop); everything that touches the outbox goes through ``AsyncOutbox``
so the connection is only ever used from that thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from gateway.acquisition.reading import Reading
from gateway.acquisition.stream import Subscription
from gateway.core.site import Site
from gateway.uplink.messages import Topics, data_payload_with, device_fields
from gateway.uplink.outbox import Outbox, Row

T = TypeVar("T")


class AsyncOutbox:
    def __init__(self, outbox: Outbox):
        self.outbox = outbox
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        #: set whenever rows were added, so the publisher wakes up
        self.added = asyncio.Event()

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def put(self, messages: list[tuple[str, bytes]],
                  seqs: dict[str, int] | None = None) -> int:
        dropped = await self._call(lambda: self.outbox.put(messages, seqs))
        self.added.set()
        return dropped

    async def peek(self, limit: int, after_id: int = 0) -> list[Row]:
        return await self._call(lambda: self.outbox.peek(limit, after_id))

    async def ack(self, rows: list[Row]) -> None:
        await self._call(lambda: self.outbox.ack(rows))

    async def ack_and_peek(self, rows: list[Row], limit: int) -> list[Row]:
        """``ack`` then ``peek`` in one trip to the outbox's thread (each trip costs
        the event loop a thread hand-off; the publisher makes one per window)."""
        def both() -> list[Row]:
            self.outbox.ack(rows)
            return self.outbox.peek(limit)
        return await self._call(both)

    async def stats(self) -> tuple[int, float, int]:
        """(depth, oldest age s, dropped total)."""
        return await self._call(lambda: (self.outbox.depth(), self.outbox.oldest_age_s(),
                                         self.outbox.dropped_total))

    async def close(self) -> None:
        await self._call(self.outbox.close)
        self._pool.shutdown(wait=True)


class OutboxWriter:
    """Commits readings as data messages; assigns each device's seq at commit.

    A commit gathers what arrives within ``linger_s`` of the first reading, so
    each transaction (and with synchronous=FULL each fsync, and the publisher's
    wake-up that follows it) serves many readings rather than one: the polls of a
    site are spread over the second, and committed one by one they cost a
    transaction each. Readings held during the linger are still the writer's to
    commit (``take_pending``) when the gateway stops.
    """

    def __init__(self, site: Site, outbox: AsyncOutbox, topics: Topics,
                 subscription: Subscription, max_batch: int = 500, linger_s: float = 0.1):
        self.outbox = outbox
        self.topics = topics
        self.sub = subscription
        self.max_batch = max_batch
        self.linger_s = linger_s
        #: per device: its data topic and the fixed fields of its messages, built once
        self._meta = {d.id: (topics.data(d.id), device_fields(d.id, d.profile.kind,
                                                              dict(d.config.tags)))
                      for d in site.devices.values()}
        self._held: list[Reading] = []
        self._committing = 0
        self.committed = 0
        #: values (good points) in the committed readings
        self.committed_values = 0

    async def run(self) -> None:
        while True:
            self._held.append(await self.sub.get())
            if self.sub.queue.qsize() + 1 < self.max_batch:
                # physical batching, like the gaps on a wire: real time, not the site clock
                await asyncio.sleep(self.linger_s)
            batch = self.take_pending(self.max_batch)
            await self.commit(batch)

    @property
    def backlog(self) -> int:
        """Readings taken from the stream and not yet committed."""
        return len(self._held) + self.sub.queue.qsize() + self._committing

    def take_pending(self, limit: int | None = None) -> list[Reading]:
        """The readings held or queued and not yet committed (at most ``limit``)."""
        batch, self._held = self._held, []
        queue = self.sub.queue
        while (limit is None or len(batch) < limit) and not queue.empty():
            batch.append(queue.get_nowait())
        return batch

    async def commit(self, batch: list[Reading]) -> None:
        seqs: dict[str, int] = {}
        messages = []
        values = 0
        for reading in batch:
            values += len(reading.values)
            seq = seqs.get(reading.device, self.outbox.outbox.next_seq(reading.device) - 1) + 1
            seqs[reading.device] = seq
            reading.seq = seq
            meta = self._meta.get(reading.device)
            if meta is None:
                meta = self.topics.data(reading.device), device_fields(reading.device,
                                                                       "unknown", {})
            topic, fields = meta
            messages.append((topic, data_payload_with(fields, reading, seq)))
        self._committing += len(batch)
        try:
            await self.outbox.put(messages, seqs)
        finally:
            self._committing -= len(batch)
        self.committed += len(batch)
        self.committed_values += values
