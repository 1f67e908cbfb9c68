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
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from gateway.daemon import Gateway, rules_path_for
from gateway.semantics import FAN_CODES, MODE_CODES
from gateway.settings import GatewaySettings, MqttSettings, OutboxSettings
from gateway.site import load_site

_MODES = {v: k for k, v in MODE_CODES.items()}
_FANS = {v: k for k, v in FAN_CODES.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes] | None, int]:
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/sbin/mosquitto") if Path(p).exists()), None)
    port = _free_port()
    if binary is None:
        return None, port
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                    "max_inflight_messages 1000\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return proc, port


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
    broker_proc, port = _mosquitto(work)
    broker = f"127.0.0.1:{port}" if broker_proc else "none (mosquitto is not installed)"
    settings = GatewaySettings(mqtt=MqttSettings(port=port, reconnect_max_s=5),
                               outbox=OutboxSettings(path=work / "outbox.sqlite",
                                                     synchronous="NORMAL"))
    sim = SiteSimulator(site)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # the gateway runs on the simulator's clock, so the rules see the simulated day
    rules = rules_path_for(site, settings)
    gw = Gateway(site, settings, clock=sim.clock, rules_path=rules)
    try:
        async with sim:
            await gw.start()
            print(f"simulators up; gateway polling {len(site.devices)} devices with rules "
                  f"{rules or '(none)'}. Ctrl-C stops.", flush=True)
            if broker_proc:
                print(f"MQTT: mosquitto_sub -h 127.0.0.1 -p {port} -t 'escogw/#' -v", flush=True)
            elapsed = 0.0
            while not stop.is_set() and (seconds is None or elapsed < seconds):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                elapsed += 1.0
                depth, _, dropped = await gw.outbox.stats()
                local = sim.sim_time.astimezone(site.tz).strftime("%Y-%m-%d %H:%M")
                screen = render(gw, broker, depth, dropped, local)
                if sys.stdout.isatty():
                    sys.stdout.write("\x1b[H\x1b[2J")
                print(screen, "\n", flush=True)
            await gw.stop()
    finally:
        if broker_proc:
            broker_proc.terminate()
            broker_proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.demo")
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
