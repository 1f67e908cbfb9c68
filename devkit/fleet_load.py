"""A fleet load generator: publishers that send what N gateways would, with the real
payloads, each site over its own connection and credentials (the central broker's ACL
holds them to their own topics) — not N gateway processes.

Every site sends the demo site's traffic (config/demo-site.yaml: 23 devices, each
polled at its own interval, every point its profile has: 27.6 points/s per site), as
``{p}/{site}/{device}/data`` messages built by the gateway's own ``data_payload``,
QoS 1 like the gateway. Each device starts at a random phase, so the load is spread
over time as a real fleet's is. A reading's time is its send time, so a historian's
lag gauge measures publish → database.

    python -m devkit.fleet_load --port 1883 --passwords pw.json --sites 100 --hold 60

prints one JSON object: sites, messages and points published and acknowledged, the
publish rate kept, errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt

from gateway.acquisition.reading import Reading
from gateway.core.profile import Value
from gateway.core.site import load_site
from gateway.uplink.messages import Topics, data_payload

ROOT = Path(__file__).resolve().parents[1]
DEMO_SITE = ROOT / "config" / "demo-site.yaml"


@dataclass(frozen=True)
class DeviceLoad:
    device: str
    kind: str
    tags: dict[str, str]
    points: tuple[str, ...]
    interval_s: float


def site_load(path: Path = DEMO_SITE) -> list[DeviceLoad]:
    """The devices of a site file with their points and poll intervals."""
    site = load_site(path)
    return [DeviceLoad(d.id, d.profile.kind, dict(d.config.tags),
                       tuple(d.config.points or d.profile.points), d.config.poll_interval_s)
            for d in site.devices.values()]


def site_ids(n: int) -> list[str]:
    return [f"fleet-{k:04d}" for k in range(1, n + 1)]


def points_per_s(devices: list[DeviceLoad]) -> float:
    return sum(len(d.points) / d.interval_s for d in devices)


class Counts:
    def __init__(self) -> None:
        self.messages = 0
        self.points = 0
        self.planned = 0
        self.errors = 0
        self.connected = 0


async def _device(client: aiomqtt.Client, topics: Topics, d: DeviceLoad, end: float,
                  counts: Counts, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0, max(0.0, min(d.interval_s, end - time.monotonic()))))
    seq = 0
    due = time.monotonic()
    while due < end:
        seq += 1
        values: dict[str, Value] = {p: round(rng.uniform(0, 500), 3) for p in d.points}
        reading = Reading(d.device, datetime.now(UTC), seq, values)
        counts.planned += 1
        try:
            await client.publish(topics.data(d.device), data_payload(reading, seq, d.kind,
                                                                     d.tags), qos=1)
            counts.messages += 1
            counts.points += len(values)
        except aiomqtt.MqttError:
            counts.errors += 1
        due += d.interval_s
        if due >= end:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))


async def _site(host: str, port: int, prefix: str, site: str, password: str,
                devices: list[DeviceLoad], start: float, end: float, counts: Counts) -> None:
    rng = random.Random(site)
    async with aiomqtt.Client(host, port, identifier=f"load-{site}", username=site,
                              password=password, clean_session=True, keepalive=30,
                              max_inflight_messages=200) as client:
        counts.connected += 1
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        topics = Topics(prefix, site)
        await asyncio.gather(*(_device(client, topics, d, end, counts, rng) for d in devices))


async def generate(host: str, port: int, passwords: dict[str, str], sites: list[str],
                   hold_s: float, prefix: str = "escogw",
                   start_at: float | None = None) -> dict[str, float]:
    """Connect every site, then publish from ``start_at`` (wall clock, default in 2 s +
    10 ms a site) for ``hold_s`` seconds."""
    devices = site_load()
    counts = Counts()
    if start_at is None:
        start_at = time.time() + 2.0 + len(sites) * 0.01
    start = time.monotonic() + (start_at - time.time())
    end = start + hold_s
    await asyncio.gather(*(_site(host, port, prefix, s, passwords[s], devices, start, end,
                                 counts) for s in sites))
    return {"sites": len(sites), "hold_s": hold_s, "messages": counts.messages,
            "points": counts.points, "planned": counts.planned, "errors": counts.errors,
            "connected": counts.connected,
            "planned_points_per_s": points_per_s(devices) * len(sites)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devkit.fleet_load", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--passwords", type=Path, required=True, help="JSON: site id → password")
    p.add_argument("--sites", type=int, required=True)
    p.add_argument("--hold", type=float, default=60.0, help="seconds of load")
    p.add_argument("--prefix", default="escogw")
    p.add_argument("--start-at", type=float, help="when the load starts (Unix time)")
    args = p.parse_args(argv)
    passwords = json.loads(args.passwords.read_text())
    result = asyncio.run(generate(args.host, args.port, passwords, site_ids(args.sites),
                                  args.hold, args.prefix, args.start_at))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
