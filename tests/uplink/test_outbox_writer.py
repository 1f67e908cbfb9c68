"""The outbox writer: readings that arrive together share a transaction; none is lost at a stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from gateway.acquisition.reading import Reading
from gateway.acquisition.stream import ReadingStream
from gateway.core.site import load_site
from gateway.uplink.messages import Topics
from gateway.uplink.outbox import Outbox
from gateway.uplink.outbox_writer import AsyncOutbox, OutboxWriter
from tests.sitefiles import DEMO_SITE

SITE = load_site(DEMO_SITE)
DEVICES = sorted(SITE.devices)


class CountingOutbox(AsyncOutbox):
    def __init__(self, outbox: Outbox):
        super().__init__(outbox)
        self.puts: list[int] = []

    async def put(self, messages: list[tuple[str, bytes]],
                  seqs: dict[str, int] | None = None) -> int:
        self.puts.append(len(messages))
        return await super().put(messages, seqs)


def reading(n: int) -> Reading:
    return Reading(DEVICES[n % len(DEVICES)], datetime(2026, 7, 15, tzinfo=UTC), 0,
                   {"active_power_kw": float(n)})


async def settle(writer: OutboxWriter) -> None:
    """Let the writer's task run until it has taken what the stream holds."""
    for _ in range(100):
        if writer.sub.queue.empty():
            return
        await asyncio.sleep(0)


async def test_readings_arriving_within_the_linger_share_one_transaction(
        tmp_path: Path) -> None:
    stream = ReadingStream()
    outbox = CountingOutbox(Outbox(tmp_path / "o.sqlite"))
    writer = OutboxWriter(SITE, outbox, Topics("escogw", SITE.id), stream.subscribe(),
                          linger_s=0.05)
    task = asyncio.create_task(writer.run())
    for n in range(30):
        await stream.publish(reading(n))
    async with asyncio.timeout(10):
        await outbox.added.wait()
    assert outbox.puts == [30]
    assert writer.committed == 30 and writer.committed_values == 30 and writer.backlog == 0
    task.cancel()
    await outbox.close()


async def test_readings_held_during_the_linger_are_committed_at_a_stop(tmp_path: Path) -> None:
    stream = ReadingStream()
    box = Outbox(tmp_path / "o.sqlite")
    outbox = AsyncOutbox(box)
    writer = OutboxWriter(SITE, outbox, Topics("escogw", SITE.id), stream.subscribe(),
                          linger_s=3600)
    task = asyncio.create_task(writer.run())
    await stream.publish(reading(0))
    await settle(writer)
    await stream.publish(reading(1))
    assert writer.backlog == 2  # one held by the lingering writer, one queued
    pending = writer.take_pending()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await writer.commit(pending)
    assert [r.device for r in pending] == DEVICES[:2]
    assert box.depth() == 2 and writer.backlog == 0
    await outbox.close()


async def test_a_full_batch_is_committed_without_waiting(tmp_path: Path) -> None:
    stream = ReadingStream()
    outbox = CountingOutbox(Outbox(tmp_path / "o.sqlite"))
    writer = OutboxWriter(SITE, outbox, Topics("escogw", SITE.id), stream.subscribe(),
                          max_batch=10, linger_s=3600)
    for n in range(25):
        await stream.publish(reading(n))
    task = asyncio.create_task(writer.run())
    async with asyncio.timeout(10):
        while writer.committed < 20:  # noqa: ASYNC110 - counts two commits, no event for it
            await asyncio.sleep(0.01)
    assert outbox.puts[:2] == [10, 10]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await outbox.close()
