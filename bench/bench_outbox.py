"""Outbox enqueue rate and backlog drain rate after an outage (issue: MQTT publishing).

- ``outbox_enqueue_per_s``: readings committed per second, in batches of 500
  (one poll second of the 500-device bench site), with synchronous=FULL — each
  reading's JSON encoding (``data_payload``) included, as the outbox writer does it;
  the median of five runs.
- ``backlog_drain_per_s``: messages per second a 60 000-message backlog drains into
  a real Mosquitto (median of three).
- ``outbox_full_after_minutes_500dev``: how long an outage the default outbox
  (512 MiB) holds for that site (500 devices polled every second) before it drops
  the oldest, from the measured bytes per message (topic + payload);
- ``backlog_drain_minutes_full_outbox``: minutes to drain that full outbox at the
  measured rate. (An hour of that site would be about 900 MiB, above the limit:
  such a backlog no longer exists, the outbox has dropped its oldest part.)
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.acquisition.reading import Reading
from gateway.core.profile import Value
from gateway.core.settings import MqttSettings, OutboxSettings
from gateway.uplink.messages import Topics, data_payload
from gateway.uplink.outbox import Outbox
from gateway.uplink.outbox_writer import AsyncOutbox
from gateway.uplink.publisher import Publisher

DEVICES = 500
BACKLOG = 60_000


VALUES: dict[str, Value] = {f"p{i:02d}": 230.0 + i * 0.37 for i in range(30)}
TOPICS = Topics("escogw", "bench")


def _readings(n: int) -> list[Reading]:
    now = datetime.now(UTC)
    return [Reading(f"dev{k % DEVICES:03d}", now, k, dict(VALUES)) for k in range(n)]


def _encode(readings: list[Reading]) -> list[tuple[str, bytes]]:
    """What the outbox writer does to each reading before it commits it."""
    return [(TOPICS.data(r.device), data_payload(r, r.seq, "meter", {"building": "A"}))
            for r in readings]


def enqueue_rate(tmp: Path, run: int) -> float:
    box = Outbox(tmp / f"enqueue-{run}.sqlite", synchronous="FULL")
    batch = _readings(DEVICES)
    rounds = 30
    start = time.perf_counter()
    for r in range(rounds):
        box.put(_encode(batch), {f"dev{i:03d}": r + 1 for i in range(DEVICES)})
    elapsed = time.perf_counter() - start
    box.close()
    return rounds * DEVICES / elapsed


def message_bytes() -> float:
    """Mean topic + payload bytes of one bench reading: what the outbox limit counts."""
    sample = _encode(_readings(DEVICES))
    return sum(len(t) + len(p) for t, p in sample) / len(sample)


async def _drain(tmp: Path, port: int, run: int) -> float:
    box = Outbox(tmp / f"drain-{run}.sqlite", synchronous="FULL")
    messages = _encode(_readings(BACKLOG))
    for i in range(0, BACKLOG, 5000):
        box.put(messages[i:i + 5000])
    outbox = AsyncOutbox(box)

    async def ignore(topic: str, payload: bytes) -> None:
        return None

    publisher = Publisher(MqttSettings(port=port, client_id=f"bench-drain-{run}", window=500),
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
        enqueue = statistics.median(enqueue_rate(tmp, i) for i in range(5))
        with Mosquitto(tmp / "broker") as broker:
            drain = statistics.median(asyncio.run(_drain(tmp, broker.port, i))
                                      for i in range(3))
    limit = OutboxSettings().max_mb * 2**20
    full = limit / message_bytes()  # messages in a full default outbox
    return {"outbox_enqueue_per_s": round(enqueue),
            "backlog_drain_per_s": round(drain),
            "outbox_full_after_minutes_500dev": round(full / DEVICES / 60, 1),
            "backlog_drain_minutes_full_outbox": round(full / drain / 60, 2)}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")

