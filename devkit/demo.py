"""``make demo``: the demo site's simulators, the gateway polling them, and a live view.

    python -m devkit.demo [--site FILE] [--data DIR] [--start HH:MM] [--lang zh-CN]
    python -m devkit.demo --report [--data DIR]       # ``make demo-report``
    python -m devkit.demo --serve [--data DIR]        # its InfluxDB again, for Grafana

Everything runs on loopback and stops with Ctrl-C. The secured site broker
(Mosquitto) takes the gateway's readings, the historian writes them to InfluxDB
on port 8086 (another free port, said so, when 8086 is taken), and the data —
InfluxDB's files, the gateway's outbox, the logs — stays in ``demo-data/``
(devkit/demo_data.py) after the demo stops. ``--report`` serves that data again
and runs ``escogw report`` on the simulated period. Without Mosquitto the gateway
keeps every reading in its outbox and says so; without InfluxDB nothing is stored.

The simulated day starts a few minutes before the rules first switch units on
(devkit/demo_clock.py), so the switch-on happens on screen, with its rule named.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devkit import demo_grafana
from devkit.demo_clock import SwitchOn, choose_start, with_start
from devkit.demo_data import DEFAULT_DIR, DemoData, DemoDataError, DemoRun, shown_path
from devkit.live_state import take
from devkit.live_view import HEIGHT, WIDTH, render_text, view
from devkit.services import (
    InfluxDB,
    Mosquitto,
    Service,
    ServiceError,
    ServiceUnavailable,
    end_process,
    free_port,
)
from devkit.site_broker import SiteBroker
from gateway.core.settings import GatewaySettings, MetricsSettings, MqttSettings, OutboxSettings
from gateway.core.site import Site, load_site, rules_path_for
from gateway.core.sourcefile import ConfigError
from gateway.daemon import Gateway
from gateway.i18n import ENGLISH, _, language, set_language

if TYPE_CHECKING:
    from simulators.runner import SiteSimulator

INFLUX_PORT = 8086
#: without a terminal (a test, a log file) the screen is printed this often, seconds
HEADLESS_EVERY_S = 10.0


def say(text: str) -> None:
    print(text, flush=True)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def influx_port(wanted: int) -> int:
    """``wanted`` when it is free, else a free port (and the demo says so)."""
    if port_free(wanted):
        return wanted
    port = free_port()
    say(_("port {wanted} is taken (another InfluxDB?): the demo's InfluxDB uses {port}")
        .format(wanted=wanted, port=port))
    return port


def start_services(data: DemoData, port: int) -> tuple[list[Service], Mosquitto | None,
                                                      InfluxDB | None]:
    """The secured broker (or an open one without openssl), then InfluxDB on ``port``."""
    started: list[Service] = []
    broker: Mosquitto | None = None
    influx: InfluxDB | None = None
    try:  # the secured site broker as shipped (TLS, passwords, ACL) where openssl is there
        broker = SiteBroker(data.root / "mosquitto")
        broker.start()
        started.append(broker)
    except ServiceError:
        broker = None
        with contextlib.suppress(ServiceUnavailable):
            broker = Mosquitto(data.root / "mosquitto-open")
            broker.start()
            started.append(broker)
    if broker is not None:
        with contextlib.suppress(ServiceUnavailable):
            influx = InfluxDB(data.influx_dir, port=port)
            influx.start()
            influx.create_database("escogw")
            started.append(influx)
    return started, broker, influx


async def stored_readings(influx: InfluxDB) -> int | None:
    try:
        answer = await asyncio.to_thread(influx.query, "SELECT count(active_power_kw) "
                                         "FROM meter", "escogw")
        series = answer["results"][0].get("series") or [{"values": [[0, 0]]}]
        return int(series[0]["values"][0][1])
    except (OSError, KeyError, IndexError, ValueError, TypeError):
        return None


def start_historian(data: DemoData, broker: Mosquitto, influx: InfluxDB
                    ) -> subprocess.Popen[bytes]:
    config = data.root / "historian.yaml"
    login = ""
    if isinstance(broker, SiteBroker):
        login = (f", username: escogw-historian, "
                 f"password: {broker.passwords['escogw-historian']}")
    config.write_text(f"""mqtt: {{host: 127.0.0.1, port: {broker.port}, client_id: demo-historian,
       sites: ["+"]{login}}}
influx: {{api: v1, url: "{influx.url}", database: escogw}}
metrics: {{enabled: false}}
""")
    log = (data.logs / "historian.log").open("ab")
    # its own session, like the services: Ctrl-C reaches the demo, which stops it in order
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "historian", "--config",
                             str(config)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _switch_on_text(switch_on: SwitchOn | None, site: Site) -> str:
    if switch_on is None:
        return _("the rules switch no unit on that day")
    return _("at {time} the rule {rule} switches {n} units on").format(
        time=switch_on.at.astimezone(site.tz).strftime("%H:%M"), rule=switch_on.rule,
        n=len(switch_on.units))


def _grafana_lines(data: DemoData, run: DemoRun, influx: InfluxDB) -> list[str]:
    prov = demo_grafana.provision(data.grafana, influx.url)
    uid = "escogw-site-overview" + ("" if language() == ENGLISH else "-zh-cn")
    url = demo_grafana.dashboard_url(uid, run.site_id, run.sim_start, run.sim_end)
    lines = [
        _("Grafana: GF_PATHS_PROVISIONING={folder} grafana-server ... "
          "(datasource = {url}, database escogw; docs/grafana.md)").format(folder=prov,
                                                                           url=influx.url),
        _("  the data is on the simulated day: open the dashboards on it, e.g. {url}")
        .format(url=url)]
    data.grafana_notes.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def run_demo(site_path: str, seconds: float | None, data: DemoData, at: time | None,
             port: int) -> int:
    """Set up (site, data folder, services, historian), serve until stopped, tear down."""
    site = load_site(site_path)
    rules = rules_path_for(site, site.spec.gateway)
    start, switch_on = choose_start(site, rules, at)
    with_start(site, start)
    data.reset()
    # warnings go to a log file: on the terminal they would tear the live view
    logging.basicConfig(level=logging.WARNING, filename=data.logs / "demo.log",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    say(_("demo data: {folder} (InfluxDB, outbox, logs; a new run replaces it, "
          "--data DIR keeps another)").format(folder=data.shown()))
    speed = float((site.spec.simulation or {}).get("speed", 1.0))
    run = DemoRun(site=str(Path(site.path).resolve()), site_id=site.id,
                  timezone=site.spec.site.timezone, sim_start=start, sim_end=start,
                  influx_port=port, speed=speed)
    started, broker_svc, influx = start_services(data, influx_port(port))
    historian = None
    try:
        if influx is not None:
            run.influx_port = influx.port
        data.save(run)
        historian = start_historian(data, broker_svc, influx) if broker_svc and influx \
            else None
        say(_("simulated {day} from {start} (×{speed:g}): {switch_on}").format(
            day=start.strftime("%Y-%m-%d"), start=start.strftime("%H:%M"), speed=speed,
            switch_on=_switch_on_text(switch_on, site)))
        say(_("gateway polling {n} devices with rules {rules}").format(
            n=len(site.devices), rules=shown_path(rules) if rules else _("(none)")))
        if broker_svc is None:
            say(_("no Mosquitto: the gateway keeps every reading in its outbox "
                  "(apt-get install mosquitto for the whole pipeline)"))
        elif isinstance(broker_svc, SiteBroker):
            creds = data.root / "broker-credentials"
            creds.write_text("".join(f"{u} {pw}\n" for u, pw in broker_svc.passwords.items()))
            say(_("MQTT: 127.0.0.1:{port} (passwords, ACL; TLS on {tls}; accounts in "
                  "{file})").format(port=broker_svc.port, tls=broker_svc.tls_port, file=creds))
        if influx is not None:
            say(_("InfluxDB 1.x: {url}, database escogw, filled by the historian")
                .format(url=influx.url))
            for line in _grafana_lines(data, run, influx):
                say(line)
        elif broker_svc is not None:
            say(_("no InfluxDB: no historian (apt-get install influxdb for it)"))
        # Ctrl-C before the live view's own handler is in place stops the same way
        failure = None
        with contextlib.suppress(KeyboardInterrupt):
            failure = asyncio.run(_serve(site, rules, data, run, broker_svc, influx, seconds))
    finally:
        if historian is not None and not end_process(historian, 15.0):
            say(_("the historian did not stop within 15 s and was killed"))
        for svc in reversed(started):
            svc.stop()
        data.save(run)
    first, last = run.days()
    say(_("stopped at simulated {time}. Kept in {folder}: InfluxDB data, outbox, logs.")
        .format(time=run.sim_end.astimezone(site.tz).strftime("%Y-%m-%d %H:%M"),
                folder=data.shown()))
    if influx is not None:
        say(_("report on the simulated period ({first} to {last}): make demo-report "
              "(python -m devkit.demo --report)").format(first=first, last=last))
        for line in _grafana_lines(data, run, influx):
            say(line)
    if failure is not None:
        say(_("the gateway stopped by itself: {why} (details in {file})").format(
            why=failure, file=data.shown() + "logs/demo.log"))
        return 1
    return 0


async def _serve(site: Site, rules: Path | None, data: DemoData, run: DemoRun,
                 broker_svc: Mosquitto | None, influx: InfluxDB | None,
                 seconds: float | None) -> str | None:
    """The simulators and the gateway on the simulators' clock, with the live view; the
    gateway's failure (a service that ended by itself), None after a clean stop."""
    from simulators.runner import SiteSimulator

    login: dict[str, Any] = {}
    if isinstance(broker_svc, SiteBroker):
        login = {"username": "escogw-gateway",
                 "password": broker_svc.passwords["escogw-gateway"]}
    settings = GatewaySettings(
        mqtt=MqttSettings(port=broker_svc.port if broker_svc else 1883, reconnect_max_s=5,
                          **login),
        outbox=OutboxSettings(path=data.gateway_dir / "outbox.sqlite", synchronous="NORMAL"),
        metrics=MetricsSettings(enabled=False))
    sim = SiteSimulator(site)
    # the gateway runs on the simulator's clock, so the rules see the simulated day
    gw = Gateway(site, settings, clock=sim.clock, rules_path=rules)
    # Ctrl-C, or a service of the gateway that ended (gw.failure), ends the live view
    stop = gw.stop_requested
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    broker = f"127.0.0.1:{broker_svc.port}" if broker_svc else None
    try:
        async with sim:
            await gw.start()
            say(_("Ctrl-C stops; the data stays in {folder}").format(folder=data.shown()))
            try:
                await _live(gw, sim, run.speed, broker, influx, data, run, stop, seconds)
            finally:
                await gw.stop()
    finally:
        run.sim_end = max(run.sim_end, sim.sim_time)
    return gw.failure


async def _live(gw: Gateway, sim: SiteSimulator, speed: float, broker: str | None,
                influx: InfluxDB | None, data: DemoData, run: DemoRun, stop: asyncio.Event,
                seconds: float | None) -> None:
    """Redraw the live view every second until ``stop`` (or ``seconds``)."""
    from rich.console import Console
    from rich.live import Live

    footer = _("Ctrl-C stops · Grafana: {file} · then: make demo-report").format(
        file=data.shown() + "grafana/README.txt")
    tty = sys.stdout.isatty()
    console = Console(width=WIDTH if not tty else None)
    elapsed = 0.0
    last_print = 0.0
    stored: int | None = None

    def state() -> Any:
        return take(gw, sim.sim_time, speed, broker, stored, footer)

    live = Live(view(state(), min(HEIGHT, console.height)), console=console,
                refresh_per_second=1, auto_refresh=False) if tty else None
    with live if live is not None else contextlib.nullcontext():
        while not stop.is_set() and (seconds is None or elapsed < seconds):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):  # not wait_for: it can lose a cancel (3.11)
                    await stop.wait()
            elapsed += 1.0
            if influx is not None and int(elapsed) % 3 == 0:
                stored = await stored_readings(influx)
            run.sim_end = sim.sim_time
            if int(elapsed) % 5 == 0:
                await asyncio.to_thread(data.save, run)
            if live is not None:
                live.update(view(state(), min(HEIGHT, console.height)), refresh=True)
            elif elapsed - last_print >= HEADLESS_EVERY_S:
                last_print = elapsed
                say(render_text(state()))
    if influx is not None:
        stored = await stored_readings(influx)
    if live is None and last_print != elapsed:  # the last screen, unless just printed
        say(render_text(state()))


# -- the report on what a run kept ------------------------------------------------------------


def report(data: DemoData, port: int | None) -> int:
    """Serve the kept InfluxDB data, run ``escogw report`` on the run's site and simulated
    days, say where the HTML is, stop InfluxDB."""
    run = data.load()
    if not data.influx_dir.exists():
        raise DemoDataError(f"{data.influx_dir}: no InfluxDB data (was InfluxDB installed "
                            "when the demo ran?)")
    site = load_site(run.site)
    rules = rules_path_for(site, site.spec.gateway)
    first, last = run.days()
    influx = InfluxDB(data.influx_dir, port=influx_port(port or run.influx_port))
    out = data.report_dir
    argv = [sys.executable, "-m", "gateway.cli", "report", "--config", run.site,
            "--from", first.isoformat(), "--to", last.isoformat(), "--influx", influx.url,
            "--out", str(out), *(["--rules", str(rules)] if rules else [])]
    say(_("InfluxDB on the kept data ({folder}) at {url}").format(folder=data.influx_dir,
                                                                 url=influx.url))
    say("$ escogw " + " ".join(argv[3:]))
    influx.start()
    try:
        done = subprocess.run(argv, env={**os.environ, "ESCOGW_LANG": language()},
                              check=False)
    finally:
        influx.stop()
    if done.returncode != 0:
        say(_("escogw report failed (exit {code})").format(code=done.returncode))
        return done.returncode
    pages = sorted(out.rglob("*.html"))
    for page in pages:
        say(_("the demo's report: {path}").format(path=page))
    return 0 if pages else 1


def serve(data: DemoData, port: int | None) -> int:
    """Serve the kept InfluxDB data for Grafana until Ctrl-C (provisioning rewritten for
    the port it got)."""
    run = data.load()
    if not data.influx_dir.exists():
        raise DemoDataError(f"{data.influx_dir}: no InfluxDB data (was InfluxDB installed "
                            "when the demo ran?)")
    influx = InfluxDB(data.influx_dir, port=influx_port(port or run.influx_port))
    influx.start()
    try:
        say(_("InfluxDB on the kept data ({folder}) at {url}").format(folder=data.influx_dir,
                                                                     url=influx.url))
        for line in _grafana_lines(data, run, influx):
            say(line)
        say(_("Ctrl-C stops it"))
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    finally:
        influx.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.demo", description=__doc__
                                     .splitlines()[0])
    parser.add_argument("--site", default="config/demo-site.yaml")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DIR,
                        help="folder for the run's data (default: demo-data/ in the clone)")
    parser.add_argument("--start", type=time.fromisoformat, metavar="HH:MM",
                        help="simulated start time on the site file's day (default: 5 "
                             "minutes before the rules first switch units on)")
    parser.add_argument("--influx-port", type=int, default=INFLUX_PORT,
                        help="InfluxDB's port (default %(default)s; a free one if taken)")
    parser.add_argument("--report", action="store_true",
                        help="no demo: run escogw report on the data the last run kept")
    parser.add_argument("--serve", action="store_true",
                        help="no demo: serve the data the last run kept to Grafana until "
                             "Ctrl-C")
    parser.add_argument("--lang", help="en or zh-CN (default: ESCOGW_LANG, LANG)")
    args = parser.parse_args(argv)
    try:
        set_language(args.lang)
    except ValueError as exc:
        parser.error(str(exc))
    data = DemoData(args.data)
    try:
        chosen_port = args.influx_port if args.influx_port != INFLUX_PORT else None
        if args.report:
            return report(data, chosen_port)
        if args.serve:
            return serve(data, chosen_port)
        return run_demo(args.site, args.seconds, data, args.start, args.influx_port)
    except KeyboardInterrupt:  # Ctrl-C before the live view (its own handler) or after it
        print("demo: interrupted; what was started is stopped", file=sys.stderr)
        return 130
    except (ConfigError, DemoDataError, ServiceError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"demo: {exc.strerror or exc} — is another demo or simulator running? "
              f"Stop it, or change the ports in {args.site}.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

