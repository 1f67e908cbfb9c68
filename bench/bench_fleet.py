"""Fleet scale on one machine: the shipped central broker (passwords, ACL), two historians
in one shared subscription writing to VictoriaMetrics, and the fleet load generator
(devkit/fleet_load.py: one connection per site, the demo site's real payloads, 27.6
points/s per site) at 50, 100 and 300 sites; and the time from pushing a bundle to
the gateway reporting it applied.

For each site count the generator holds its load for ``FLEET_BENCH_HOLD_S`` seconds
(default 15, so that ``make bench`` stays short; ``FLEET_BENCH_HOLD_S=60 python -m
bench fleet`` is the 60 s hold the issue names, docs/fleet.md; ``FLEET_BENCH_SITES=300,600,
1200`` other counts). Then:

- lost = messages the broker acknowledged to the generator − messages the historians
  wrote and acknowledged (they acknowledge only after VictoriaMetrics took the batch);
- lag = the historians' ``escogw_historian_lag_seconds`` (now − the newest reading time
  written), sampled every 0.5 s during the hold; a reading's time is its send time, so
  this is publish → database; p95 of the samples of both historians;
- a count is *sustained* when nothing was lost, the generator kept ≥ 98 % of its
  schedule and the lag p95 stayed under 5 s.

Figures: fleet_sites_sustained (the largest sustained count), fleet_points_per_s and
fleet_lag_p95_s at that count (points = field values, as VictoriaMetrics counts
samples), fleet_push_apply_s (median of 3 pushes: publish of the desired state → the
gateway's retained report says applied; rollback window 0, so applied means swapped in).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from devkit.central_broker import CentralBroker
from devkit.fleet_load import site_ids
from gateway.core.settings import MqttSettings
from gateway.fleet.bundle import BundleFile, make_bundle
from gateway.fleet.operator import FleetClient
from tests.historian_process import HistorianProcess, historian_config, until
from tests.processes import Proc, simulator
from tests.services import VictoriaMetrics, free_port
from tests.sitefiles import ROOT, site_copy

COUNTS = tuple(int(n) for n in os.environ.get("FLEET_BENCH_SITES", "50,100,300").split(","))
HOLD_S = float(os.environ.get("FLEET_BENCH_HOLD_S", "15"))
LAG_BOUND_S = 5.0
PUSHES = 3


def _historians(tmp: Path, broker: CentralBroker, vm: VictoriaMetrics) -> list[HistorianProcess]:
    procs = []
    for n in (1, 2):
        port = free_port()
        config = historian_config(
            tmp / f"historian-{n}.yaml", mqtt_port=broker.port, prefix="escogw",
            client_id=f"bench-fleet-historian-{n}",
            influx={"api": "v2", "url": vm.url, "bucket": "escogw", "org": "esco",
                    "token": "x"},
            **{"mqtt.shared_group": "historians", "mqtt.username": "escogw-historian",
               "mqtt.password": broker.passwords["escogw-historian"],
               "metrics": {"enabled": True, "port": port}, "log_level": "WARNING"})
        procs.append(HistorianProcess(config, tmp / f"historian-{n}.log", port))
    for p in procs:
        p.start()
    until(lambda: all((p.metrics_or_none() or {}).get("mqtt_connected") == 1 for p in procs),
          30, what="historians connected")
    return procs


def _written(procs: list[HistorianProcess]) -> tuple[float, float]:
    """(messages written, messages rejected or bad) over both historians."""
    ms = [p.metrics() for p in procs]
    return (sum(m.get("messages_written", 0) for m in ms),
            sum(m.get("messages_rejected", 0) + m.get("messages_bad", 0) for m in ms))


def _step(tmp: Path, broker: CentralBroker, procs: list[HistorianProcess],
          sites: int) -> dict[str, float]:
    passwords = tmp / "passwords.json"
    passwords.write_text(json.dumps(broker.passwords))
    written0, bad0 = _written(procs)
    lags: list[float] = []
    start_at = time.time() + 3.0 + sites * 0.01  # every site connected by then
    gen = subprocess.Popen([sys.executable, "-m", "devkit.fleet_load", "--port",
                            str(broker.port), "--passwords", str(passwords), "--sites",
                            str(sites), "--hold", str(HOLD_S), "--start-at", str(start_at)],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # the lag is sampled inside the hold only: after it, "now − newest written" just grows
    while gen.poll() is None:
        now = time.time()
        if start_at + 1.0 <= now <= start_at + HOLD_S - 1.0:
            for p in procs:
                lag = (p.metrics_or_none() or {}).get("lag_seconds")
                if lag is not None:
                    lags.append(lag)
        time.sleep(0.5)
    out, err = gen.communicate()
    if gen.returncode != 0:
        raise RuntimeError(f"fleet_load failed: {err.decode()[-500:]}")
    result = json.loads(out)
    with contextlib.suppress(AssertionError):  # what is missing then counts as lost
        until(lambda: _written(procs)[0] - written0 >= result["messages"], 30,
              what="the historians to write everything")
    written, bad = _written(procs)
    lost = result["messages"] - (written - written0) + (bad - bad0)
    lag_p95 = statistics.quantiles(lags, n=20)[-1] if len(lags) >= 2 else float("inf")
    kept = result["messages"] / max(1, result["planned"])
    ok = lost == 0 and result["errors"] == 0 and kept >= 0.98 and lag_p95 < LAG_BOUND_S
    print(f"{sites} sites: {result['points'] / HOLD_S:.0f} points/s "
          f"({result['messages']} messages), lost {lost:.0f}, lag p95 {lag_p95:.2f} s, "
          f"schedule kept {kept:.1%} → {'sustained' if ok else 'NOT sustained'}",
          file=sys.stderr)
    return {"sites": sites, "points_per_s": result["points"] / HOLD_S, "lag_p95_s": lag_p95,
            "lost": lost, "ok": 1.0 if ok else 0.0}


def _push_apply(tmp: Path, broker: CentralBroker) -> float:
    """Median seconds from publishing a desired state to the report that it applied."""
    rules = tmp / "rules.yaml"
    base = (ROOT / "rules" / "demo-office.yaml").read_text()
    rules.write_text(base)
    site = site_copy(tmp, poll_interval_s=5, edit={"gateway": {"rules": str(rules)}})
    platform = MqttSettings.model_validate({
        "host": "127.0.0.1", "port": broker.tls_port, "username": "platform",
        "password": broker.passwords["platform"], "tls": {"ca_file": str(broker.ca)}})
    times = []
    with simulator(site):
        gw = Proc([sys.executable, "-m", "gateway.cli", "--log-level", "WARNING", "run",
                   "--config", str(site), "--outbox", str(tmp / "outbox.sqlite"),
                   "--set", "mqtt.host=127.0.0.1", "--set", f"mqtt.port={broker.tls_port}",
                   "--set", "mqtt.username=demo-office",
                   "--set", f"mqtt.password={broker.passwords['demo-office']}",
                   "--set", f"mqtt.tls.ca_file={broker.ca}", "--set", "fleet.enabled=true",
                   "--set", "fleet.settle_s=0", "--set", "fleet.rollback_window_s=0",
                   "--set", f"metrics.port={free_port()}"], tmp / "gateway.log")
        gw.start()
        client = FleetClient(platform)
        try:
            if not client.wait(lambda: "demo-office" in client.reported, 60):
                raise RuntimeError(f"the gateway never reported: {gw.log_text()[-2000:]}")
            for n in range(PUSHES):
                text = base.replace("limit_kw: 32", f"limit_kw: {40 + n}")
                bundle = make_bundle(f"bench-{n}", "bench", datetime.now(UTC),
                                     {"rules": BundleFile("rules.yaml", text)})
                t0 = time.perf_counter()
                client.push("demo-office", bundle.payload())
                if not client.wait(_applied(client, bundle.digest), 60):
                    raise RuntimeError("the bundle was not reported applied within 60 s")
                times.append(time.perf_counter() - t0)
        finally:
            client.close()
            gw.stop()
    return statistics.median(times)


def _applied(client: FleetClient, digest: str) -> Callable[[], bool]:
    def check() -> bool:
        report = client.reported.get("demo-office", {})
        return report.get("digest") == digest and report.get("state") == "applied"
    return check


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp_name:
        tmp = Path(tmp_name)
        broker = CentralBroker(tmp / "central", ["demo-office", *site_ids(max(COUNTS))])
        broker.start()
        try:
            with VictoriaMetrics(tmp / "vm") as vm:
                procs = _historians(tmp, broker, vm)
                try:
                    steps = [_step(tmp, broker, procs, n) for n in COUNTS]
                finally:
                    for p in procs:
                        p.stop()
            # after the load: the gateway's retained states must not reach the historians
            push_apply = _push_apply(tmp, broker)
            print(f"push → applied: {push_apply:.2f} s", file=sys.stderr)
        finally:
            broker.stop()
    held = [s for s in steps if s["ok"]]
    best = held[-1] if held else steps[0]
    figures = {"fleet_sites_sustained": best["sites"] if held else 0.0,
               "fleet_points_per_s": round(best["points_per_s"], 1),
               "fleet_lag_p95_s": round(best["lag_p95_s"], 3) if held else -1.0,
               "fleet_push_apply_s": round(push_apply, 3),
               "fleet_hold_s": HOLD_S}
    for s in steps:
        figures[f"fleet_lost_messages_{int(s['sites'])}"] = s["lost"]
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
