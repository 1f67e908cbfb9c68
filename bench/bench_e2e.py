"""The whole pipeline a user runs, poll → decode → durable outbox → MQTT broker, in CPU per value.

`e2e_cpu_us_per_value_100_devices`, `e2e_cpu_us_per_value_300_devices`: SDM630
meters (30 float32 points each, polled every second) behind Modbus TCP serial
servers of 50 unit ids each, served by the simulators in their own process
(`python -m simulators run`, wire time off). The gateway — the daemon's own
`Gateway` (acquisition, outbox writer, SQLite outbox with synchronous=FULL,
publisher, the live energy accountant; no control rules, no metrics server) —
runs in a child process of its own, so its CPU time (user + system, all its
threads) is the gateway's alone. A subscriber in a third process counts the
values that reach a real Mosquitto, each reading once (by device and seq). After
a warm-up, the gateway's CPU time over a 10-second window is divided by the
values the subscriber received in it. Target ≤ 8 µs per value.

`e2e_values_lost`: after the window polling stops, the outbox drains, and the
values committed to the outbox (both sizes together) less the values the
subscriber received is printed. Must be 0.

    python -m bench e2e
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import yaml

from bench.bench_acquisition import SDM630_POINTS, _cpu_s, _site, simulators

SIZES = (100, 300)
UNITS_PER_LINK = 50
WARMUP_S = 5.0
WINDOW_S = 10.0
#: how long the outbox may take to drain, and the subscriber to catch up, after polling stops
DRAIN_TIMEOUT_S = 60.0
SITE_ID = "bench"
PREFIX = "escogw"


def site_tcp(folder: Path, devices: int) -> Path:
    from devkit.services import free_port

    links = {f"gw{i}": {"transport": "tcp", "host": "127.0.0.1", "port": free_port(),
                        "timeout_s": 1.0}
             for i in range((devices + UNITS_PER_LINK - 1) // UNITS_PER_LINK)}
    meters = {f"m{n}": {"link": f"gw{n // UNITS_PER_LINK}", "profile": "eastron-sdm630",
                        "unit_id": n % UNITS_PER_LINK + 1, "poll_interval_s": 1.0,
                        "points": SDM630_POINTS, "simulate": {"meter": "main"}}
              for n in range(devices)}
    path = folder / f"site-e2e-{devices}.yaml"
    path.write_text(yaml.safe_dump(_site(links, meters, wire_time=False), sort_keys=False))
    return path


# -- the subscriber (its own process) --------------------------------------------------------


def _subscriber(port: int, ready: Any, received: Synchronized[int], conn: Connection) -> None:
    """Count the values of every data message once, by (device, seq), until told to stop."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    seen: set[tuple[str, int]] = set()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-e2e-sub",
                         clean_session=True)

    def on_message(client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        key = (body["device"], body["seq"])
        if key not in seen:
            seen.add(key)
            received.value += len(body["values"])

    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{PREFIX}/{SITE_ID}/+/data", qos=1)
    client.on_subscribe = lambda c, u, mid, rc, p: ready.set()
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    conn.recv()  # stop
    client.loop_stop()
    client.disconnect()
    conn.send(len(seen))


# -- the gateway (its own process) -------------------------------------------------------------


async def _measure_gateway(site_path: str, outbox: str, port: int,
                           received: Synchronized[int]) -> dict[str, float]:
    from gateway.core.settings import GatewaySettings
    from gateway.core.site import load_site
    from gateway.daemon import Gateway

    settings = GatewaySettings.model_validate({
        "mqtt": {"port": port, "client_id": "bench-e2e"},
        "outbox": {"path": outbox, "synchronous": "FULL"},
        "metrics": {"enabled": False}})
    gateway = Gateway(load_site(site_path), settings)
    await gateway.start()
    try:
        await asyncio.sleep(WARMUP_S)
        cpu0, got0 = _cpu_s(), received.value
        await asyncio.sleep(WINDOW_S)
        cpu1, got1 = _cpu_s(), received.value
        depth = (await gateway.outbox.stats())[0]
        # polling stops; what was read is committed, then the outbox drains to the broker
        await gateway.engine.stop()
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline and (  # noqa: ASYNC110 - a benchmark's coarse wait
                gateway.writer.backlog or (await gateway.outbox.stats())[0]):
            await asyncio.sleep(0.1)
        committed = gateway.writer.committed_values
        # another process's counter: nothing here to await
        while time.monotonic() < deadline and received.value < committed:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        failed = sum(len(p.last_reading.failed) for p in gateway.engine.pollers()
                     if p.last_reading is not None)
    finally:
        await gateway.stop()
    if got1 == got0:
        raise RuntimeError("no values reached the broker in the window")
    if received.value > committed:
        raise RuntimeError(f"{received.value} values received, only {committed} committed")
    print(f"e2e: {len(gateway.site.devices)} devices, {got1 - got0} values delivered in "
          f"{WINDOW_S:.0f} s, outbox depth {depth} at the window's end, {failed} points failed "
          f"in the last polls", file=sys.stderr)
    return {"cpu_us": (cpu1 - cpu0) / (got1 - got0) * 1e6,
            "committed": float(committed), "received": float(received.value)}


def _gateway_child(site_path: str, outbox: str, port: int, received: Synchronized[int],
                   conn: Connection) -> None:
    try:
        conn.send(asyncio.run(_measure_gateway(site_path, outbox, port, received)))
    except BaseException as exc:  # report anything to the parent
        conn.send(f"{type(exc).__name__}: {exc}")
        raise


def measure(folder: Path, devices: int) -> dict[str, float]:
    from tests.services import Mosquitto

    site = site_tcp(folder, devices)
    context = multiprocessing.get_context("spawn")
    with simulators(site), Mosquitto(folder / f"broker-{devices}") as broker:
        received = context.Value("q", 0, lock=False)
        ready = context.Event()
        sub_ours, sub_theirs = context.Pipe()
        sub = context.Process(target=_subscriber, name="bench-e2e-sub",
                              args=(broker.port, ready, received, sub_theirs), daemon=True)
        sub.start()
        if not ready.wait(30):
            raise RuntimeError("subscriber did not subscribe")
        ours, theirs = context.Pipe()
        child = context.Process(target=_gateway_child, name="bench-e2e-gateway",
                                args=(str(site), str(folder / f"outbox-{devices}.sqlite"),
                                      broker.port, received, theirs), daemon=True)
        child.start()
        if not ours.poll(WARMUP_S + WINDOW_S + DRAIN_TIMEOUT_S + 120):
            raise RuntimeError("gateway child gave no result")
        result = ours.recv()
        child.join(10)
        sub_ours.send("stop")
        sub_ours.poll(10)
        sub.join(10)
    if isinstance(result, str):
        raise RuntimeError(f"gateway child failed: {result}")
    figures: dict[str, float] = result
    return figures


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    lost = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        for devices in SIZES:
            result = measure(Path(tmp), devices)
            figures[f"e2e_cpu_us_per_value_{devices}_devices"] = round(result["cpu_us"], 2)
            lost += result["committed"] - result["received"]
    figures["e2e_values_lost"] = lost
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
