"""``python -m simulators``: serve a site's simulated devices, list their endpoints, switch faults.

    python -m simulators run --site config/demo-site.yaml [--speed 60] [--view]
    python -m simulators endpoints --site FILE [--json]
    python -m simulators fault --site FILE DEVICE KIND [--code 6] [--delay-ms N] [--duration-s N]
    python -m simulators state --site FILE [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

from gateway.core.site import load_site
from gateway.core.sourcefile import ConfigError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulators",
                                description="Modbus device simulators with physics.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the site until Ctrl-C")
    run.add_argument("--site", required=True)
    run.add_argument("--speed", type=float, help="simulated seconds per second")
    run.add_argument("--view", action="store_true", help="print a live view of the physics")
    run.add_argument("--log-level", default="INFO")
    ep = sub.add_parser("endpoints", help="where each device is served")
    ep.add_argument("--site", required=True)
    ep.add_argument("--json", action="store_true")
    fault = sub.add_parser("fault", help="switch a running simulator's fault for one device")
    fault.add_argument("--site", required=True)
    fault.add_argument("device")
    fault.add_argument("kind", help="none, no_reply, exception, slow, late, drop_connection, "
                                    "bad_crc, vanish")
    fault.add_argument("--code", type=lambda s: int(s, 0))
    fault.add_argument("--delay-ms", type=float)
    fault.add_argument("--duration-s", type=float)
    state = sub.add_parser("state", help="the running simulator's physics now")
    state.add_argument("--site", required=True)
    state.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return asyncio.run(_run(args))
        if args.command == "endpoints":
            return _endpoints(args)
        return asyncio.run(_remote(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _endpoints(args: argparse.Namespace) -> int:
    from simulators.runner import endpoints

    rows = endpoints(load_site(args.site))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        where = r.get("path") or f"{r['host']}:{r['port']}"
        index = f" index {r['index']}" if "index" in r else ""
        who = f"address {r['address']}" if "address" in r else f"unit {r['unit_id']}"
        print(f"{r['device']:<16} {r['transport']:<13} {where:<28} {who}"
              f"{index}  {r['profile']}")
    return 0


async def _remote(args: argparse.Namespace) -> int:
    from simulators.sim_config import load_simulation

    sim = load_simulation(load_site(args.site))
    control = sim.config.control
    if not control.port:
        print(f"{args.site}: simulation.control.port is not set", file=sys.stderr)
        return 2
    if args.command == "fault":
        spec: dict[str, Any] = {"kind": args.kind}
        for key in ("code", "delay_ms", "duration_s"):
            if getattr(args, key) is not None:
                spec[key] = getattr(args, key)
        msg: dict[str, Any] = {"cmd": "fault", "device": args.device, "fault": spec}
    else:
        msg = {"cmd": "state"}
    try:
        reader, writer = await asyncio.open_connection(control.host, control.port)
    except OSError as exc:
        print(f"no simulator at {control.host}:{control.port}: {exc.strerror}", file=sys.stderr)
        return 1
    writer.write(json.dumps(msg).encode() + b"\n")
    answer = json.loads(await reader.readline())
    writer.close()
    if not answer.get("ok"):
        print(answer.get("error"), file=sys.stderr)
        return 1
    if args.command == "state" and not args.json:
        from simulators.view import render

        print(render(answer["state"]))
    else:
        print(json.dumps(answer.get("state", answer.get("fault")), indent=1))
    return 0


async def _run(args: argparse.Namespace) -> int:
    from gateway.core.clock import ScaledClock
    from simulators.runner import SiteSimulator
    from simulators.view import render

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    site = load_site(args.site)
    sim = SiteSimulator(site)
    if args.speed:
        sim.clock = ScaledClock(sim.clock.now(), args.speed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with sim:
        for r in sim.endpoints():
            where = r.get("path") or f"{r['host']}:{r['port']}"
            logging.getLogger("simulators").info("serving %s on %s %s unit %s", r["device"],
                                                 r["transport"], where, r["unit_id"])
        print(f"simulating site {site.id}: {len(site.devices)} devices on "
              f"{len(site.spec.links)} links; Ctrl-C stops", file=sys.stderr, flush=True)
        while not stop.is_set():
            if args.view:
                screen = render(sim.snapshot())
                if sys.stdout.isatty():
                    sys.stdout.write("\x1b[H\x1b[2J")
                print(screen, flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
