"""``make demo``: the demo site's simulators, the gateway polling them, and a live view.

Everything runs on loopback and stops with Ctrl-C. When Mosquitto is
installed it is started on a free port and the gateway publishes to it;
otherwise the gateway keeps every reading in its outbox and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from devkit.services import (
    InfluxDB,
    Mosquitto,
    Service,
    ServiceError,
    ServiceUnavailable,
    end_process,
)
from devkit.site_broker import SiteBroker
from gateway.core.semantics import FAN_CODES, MODE_CODES
from gateway.core.settings import GatewaySettings, MetricsSettings, MqttSettings, OutboxSettings
from gateway.core.site import load_site, rules_path_for
from gateway.daemon import Gateway

_MODES = {v: k for k, v in MODE_CODES.items()}
_FANS = {v: k for k, v in FAN_CODES.items()}


def _services(work: Path) -> tuple[list[Service], Mosquitto | None, InfluxDB | None]:
    """Mosquitto and InfluxDB on free loopback ports, where their binaries are installed."""
    started: list[Service] = []
    broker: Mosquitto | None = None
    influx: InfluxDB | None = None
    try:  # the secured site broker as shipped (TLS, passwords, ACL) where openssl is there
        broker = SiteBroker(work / "mosquitto")
        broker.start()
        started.append(broker)
    except ServiceError:
        broker = None
        with contextlib.suppress(ServiceUnavailable):
            broker = Mosquitto(work / "mosquitto-open")
            broker.start()
            started.append(broker)
    if broker is not None:
        with contextlib.suppress(ServiceUnavailable):
            influx = InfluxDB(work / "influxdb")
            influx.start()
            influx.create_database("escogw")
            started.append(influx)
    return started, broker, influx


async def _stored(influx: InfluxDB) -> str:
    try:
        answer = await asyncio.to_thread(influx.query, "SELECT count(active_power_kw) "
                                         "FROM meter", "escogw")
        series = answer["results"][0].get("series") or [{"values": [[0, 0]]}]
        return str(series[0]["values"][0][1])
    except (OSError, KeyError, IndexError, ValueError) as exc:
        return f"unknown ({exc})"


def _historian(work: Path, broker: Mosquitto, influx: InfluxDB) -> subprocess.Popen[bytes]:
    config = work / "historian.yaml"
    login = ""
    if isinstance(broker, SiteBroker):
        login = (f", username: escogw-historian, "
                 f"password: {broker.passwords['escogw-historian']}")
    config.write_text(f"""mqtt: {{host: 127.0.0.1, port: {broker.port}, client_id: demo-historian,
       sites: ["+"]{login}}}
influx: {{api: v1, url: "{influx.url}", database: escogw}}
metrics: {{enabled: false}}
""")
    log = (work / "historian.log").open("wb")
    # its own session, like the services: Ctrl-C reaches the demo, which stops it in order
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "historian", "--config",
                             str(config)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def render(gw: Gateway, broker: str, depth: int, dropped: int, sim_time: str = "") -> str:
    pub = gw.publisher
    lines = [f"esco-gateway demo — site {gw.site.id}   simulated time {sim_time}",
             f"broker {broker}: "
             f"{'connected' if pub.connected else 'NOT connected (readings wait in the outbox)'}",
             f"outbox: {depth} waiting, {pub.published} published, {dropped} dropped   "
             f"commands: {gw.commands.counts}", ""]
    lines.append(f"{'device':<14} {'state':<9} {'read at':<9} reading")
    for poller in gw.engine.pollers():
        r = poller.last_reading
        v = r.values if r else {}
        if "active_power_kw" in v:
            text = f"{v['active_power_kw']:8.2f} kW  {v.get('energy_import_kwh', 0):10.2f} kWh"
        elif "volume_m3" in v:
            text = f"{v.get('flow_m3_h', 0):8.3f} m³/h {v['volume_m3']:10.0f} m³"
        elif "room_temp_c" in v:
            on = "on " if v.get("power") else "off"
            mode = _MODES.get(int(v.get("mode", -1)), "?")
            fan = _FANS.get(int(v.get("fan", -1)), "?")
            text = (f"room {v['room_temp_c']:5.1f} °C  {on} {mode:<4} set "
                    f"{v.get('setpoint_c', 0):4.1f} fan {fan}")
        else:
            text = ""
        if r and r.failed:
            text += f"  ({len(r.failed)} points failed)"
        when = r.ts.astimezone(gw.site.tz).strftime("%H:%M:%S") if r else "-"
        lines.append(f"{poller.id:<14} {poller.health.state.value:<9} {when:<9} {text}")
    if gw.control is not None:
        lines += ["", f"control: rules {gw.control.rules.digest}, {gw.control_events} — latest:"]
        changes = [r for r in gw.control.recent if r.get("kind") != "notice"][-6:]
        for rec in changes or list(gw.control.recent)[-3:]:
            when = str(rec.get("ts", ""))[11:19]
            what = (f"{rec.get('point')} {rec.get('before')} → {rec.get('after')}"
                    if rec.get("kind") == "change" else str(rec.get("kind")))
            lines.append(f"  {when}Z {rec.get('device') or '':<11} {what:<24} "
                         f"{rec.get('rule')}: {rec.get('reason')}"[:110])
    return "\n".join(lines)


async def main_async(site_path: str, seconds: float | None) -> int:
    from simulators.runner import SiteSimulator

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    site = load_site(site_path)
    work = Path(tempfile.mkdtemp(prefix="escogw-demo-"))
    started, broker_svc, influx = _services(work)
    port = broker_svc.port if broker_svc else 1883
    broker = f"127.0.0.1:{port}" if broker_svc else "none (mosquitto is not installed)"
    login: dict[str, Any] = {}
    if isinstance(broker_svc, SiteBroker):
        login = {"username": "escogw-gateway",
                 "password": broker_svc.passwords["escogw-gateway"]}
        creds = work / "broker-credentials"
        creds.write_text("".join(f"{u} {pw}\n" for u, pw in broker_svc.passwords.items()))
        broker += f" (passwords, ACL; TLS on {broker_svc.tls_port}; accounts in {creds})"
    settings = GatewaySettings(mqtt=MqttSettings(port=port, reconnect_max_s=5, **login),
                               outbox=OutboxSettings(path=work / "outbox.sqlite",
                                                     synchronous="NORMAL"),
                               metrics=MetricsSettings(enabled=False))
    historian = _historian(work, broker_svc, influx) if broker_svc and influx else None
    sim = SiteSimulator(site)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # the gateway runs on the simulator's clock, so the rules see the simulated day
    rules = rules_path_for(site, site.spec.gateway)
    gw = Gateway(site, settings, clock=sim.clock, rules_path=rules)
    try:
        async with sim:
            await gw.start()
            print(f"simulators up; gateway polling {len(site.devices)} devices with rules "
                  f"{rules or '(none)'}. Ctrl-C stops.", flush=True)
            if broker_svc:
                print(f"MQTT: mosquitto_sub -h 127.0.0.1 -p {port} -t 'escogw/#' -v", flush=True)
            else:
                print("no Mosquitto: the gateway keeps every reading in its outbox "
                      "(apt-get install mosquitto for the whole pipeline)", flush=True)
            if influx is not None:
                print(f"InfluxDB 1.x at {influx.url}, database escogw, filled by the historian. "
                      "Grafana: provision config/grafana/ with the datasource url set to "
                      f"{influx.url} (docs/grafana.md)", flush=True)
            elif broker_svc:
                print("no InfluxDB: no historian (apt-get install influxdb for it)", flush=True)
            elapsed = 0.0
            while not stop.is_set() and (seconds is None or elapsed < seconds):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                elapsed += 1.0
                depth, _, dropped = gw.outbox_stats  # refreshed every second by the gateway
                local = sim.sim_time.astimezone(site.tz).strftime("%Y-%m-%d %H:%M")
                screen = render(gw, broker, depth, dropped, local)
                if influx is not None:
                    screen += f"\n\nInfluxDB (historian): {await _stored(influx)} meter readings"
                if sys.stdout.isatty():
                    sys.stdout.write("\x1b[H\x1b[2J")
                print(screen, "\n", flush=True)
            await gw.stop()
    finally:
        if historian is not None and not end_process(historian, 15.0):
            print("demo: the historian did not stop within 15 s and was killed",
                  file=sys.stderr)
        for svc in reversed(started):
            svc.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.demo")
    parser.add_argument("--site", default="config/demo-site.yaml")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    args = parser.parse_args()
    try:
        return asyncio.run(main_async(args.site, args.seconds))
    except OSError as exc:
        print(f"demo: {exc.strerror or exc} — is another demo or simulator running? "
              f"Stop it, or change the ports in {args.site}.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
