"""The publisher stops when cancelled even if a row arrives at that very moment.

On Python 3.11 ``asyncio.wait_for`` returns normally when the awaited event fires just as
the waiting task is cancelled: the cancel is lost. The publisher's idle wait used it, so
a reading committed as the gateway stopped kept the drain loop (and ``Gateway.stop``, and
``make demo`` at its end) waiting for ever. The race is made deterministic here: the row's
event is set, its waiter runs, and only then is the drain cancelled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import aiomqtt

from gateway.core.settings import MqttSettings
from gateway.uplink.outbox import Outbox
from gateway.uplink.outbox_writer import AsyncOutbox
from gateway.uplink.publisher import Publisher


async def ignore(topic: str, payload: bytes) -> None:
    return None


async def test_a_cancel_that_meets_a_new_row_still_stops_the_drain(tmp_path: Path) -> None:
    outbox = AsyncOutbox(Outbox(tmp_path / "outbox.sqlite"))
    publisher = Publisher(MqttSettings(port=1, client_id="stop-test"), "stoptest", outbox,
                          ignore)
    no_client = cast(aiomqtt.Client, object())  # never used: the outbox stays empty
    try:
        for _attempt in range(5):
            drain = asyncio.create_task(publisher._drain(no_client))
            # until the drain has peeked, found nothing and waits on the event (no event
            # says so: the event's own list of waiters does)
            while not outbox.added._waiters:  # noqa: ASYNC110
                await asyncio.sleep(0)
            outbox.added.set()         # a row arrives (the event only: the outbox stays empty)
            await asyncio.sleep(0)     # the event's waiter runs
            drain.cancel()             # and the stop cancels the drain right then
            done, _pending = await asyncio.wait({drain}, timeout=5)
            assert done, "the drain swallowed its cancel and kept running"
            assert drain.cancelled()
    finally:
        await outbox.close()
