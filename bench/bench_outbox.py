"""Outbox enqueue rate and backlog drain rate after an outage (issue: MQTT publishing).

- ``outbox_enqueue_per_s``: readings committed per second, in batches of 500
  (one poll second of the 500-device bench site), with synchronous=FULL.
- ``backlog_drain_minutes_1h_500dev``: minutes to drain one hour of that site
  (500 devices polled every second = 1.8 M messages) into a real Mosquitto,
  extrapolated from the measured drain rate of a 60 000-message backlog.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.acquisition.reading import Reading
from gateway.core.profile import Value
from gateway.core.settings import MqttSettings
from gateway.uplink.messages import Topics, data_payload
from gateway.uplink.outbox import Outbox
from gateway.uplink.outbox_writer import AsyncOutbox
from gateway.uplink.publisher import Publisher

DEVICES = 500
BACKLOG = 60_000


def _payloads(n: int) -> list[tuple[str, bytes]]:
    topics = Topics("escogw", "bench")
    values: dict[str, Value] = {f"p{i:02d}": 230.0 + i * 0.37 for i in range(30)}
    now = datetime.now(UTC)
    out = []
    for k in range(n):
        device = f"dev{k % DEVICES:03d}"
        out.append((topics.data(device), data_payload(Reading(device, now, k, values), k,
                                                      "meter", {"building": "A"})))
    return out


def enqueue_rate(tmp: Path) -> float:
    box = Outbox(tmp / "enqueue.sqlite", synchronous="FULL")
    batch = _payloads(DEVICES)
    rounds = 30
    start = time.perf_counter()
    for r in range(rounds):
        box.put(batch, {f"dev{i:03d}": r + 1 for i in range(DEVICES)})
    elapsed = time.perf_counter() - start
    box.close()
    return rounds * DEVICES / elapsed


async def _drain(tmp: Path, port: int) -> float:
    box = Outbox(tmp / "drain.sqlite", synchronous="FULL")
    messages = _payloads(BACKLOG)
    for i in range(0, BACKLOG, 5000):
        box.put(messages[i:i + 5000])
    outbox = AsyncOutbox(box)

    async def ignore(topic: str, payload: bytes) -> None:
        return None

    publisher = Publisher(MqttSettings(port=port, client_id="bench-drain", window=500),
                          "bench", outbox, ignore)
    task = asyncio.create_task(publisher.run())
    while not publisher.connected:  # noqa: ASYNC110 - a benchmark's coarse wait
        await asyncio.sleep(0.01)
    start = time.perf_counter()
    while (await outbox.stats())[0] > 0:  # noqa: ASYNC110 - polled at 20 Hz, << drain time
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    publisher.stop()
    await task
    await outbox.close()
    return BACKLOG / elapsed


def run() -> dict[str, float]:
    from tests.services import Mosquitto

    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as name:
        tmp = Path(name)
        enqueue = enqueue_rate(tmp)
        with Mosquitto(tmp / "broker") as broker:
            drain = asyncio.run(_drain(tmp, broker.port))
    hour = DEVICES * 3600
    return {"outbox_enqueue_per_s": round(enqueue),
            "backlog_drain_per_s": round(drain),
            "backlog_drain_minutes_1h_500dev": round(hour / drain / 60, 2)}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")

