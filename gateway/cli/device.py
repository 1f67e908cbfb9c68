"""What ``escogw read / write / scan`` do on the wire, through the same link and scheduler code
as the running gateway (so the CLI shows exactly what the daemon would see)."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.acquisition.link import DeviceException, Link, LinkError
from gateway.acquisition.meter_link import MeterLink
from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.acquisition.scheduler import LinkScheduler
from gateway.acquisition.transports import make_link
from gateway.control.audit import AuditLog, write_record
from gateway.control.rules import load_rules
from gateway.control.safety_guard import REFUSED, SafetyGuard
from gateway.core.clock import SystemClock
from gateway.core.codec import CodecError
from gateway.core.policy import SetpointPolicy
from gateway.core.profile import Value
from gateway.core.semantics import STANDARD_POINTS
from gateway.core.site import Device, Site, load_site, rules_path_for
from gateway.core.sourcefile import ConfigError, Problem
from gateway.uplink.commands import CommandRefused, parse_command
from gateway.uplink.messages import iso


def _device(site: Site, device_id: str) -> Device:
    device = site.devices.get(device_id)
    if device is None:
        raise ConfigError([Problem(site.path, None, "devices",
                                   f"no device '{device_id}' (have: {', '.join(site.devices)})")])
    return device


def _scheduler_for(site: Site, device: Device, points: list[str] | None) -> LinkScheduler:
    if points:
        missing = [p for p in points if p not in device.profile.points]
        if missing:
            raise ConfigError([Problem(device.profile.path, None, "points",
                                       f"profile {device.profile.id} has no point "
                                       f"{', '.join(missing)}")])
        device = Device(device.id, device.config.model_copy(update={"points": points}),
                        device.profile)

    async def discard(_: Reading) -> None:
        return None

    link = make_link(device.link, site.spec.links[device.link])
    return LinkScheduler(link, [device], SystemClock(), discard)


def _display(name: str, value: Value, device: Device) -> str:
    point = device.profile.points[name]
    if point.names is not None and isinstance(value, int):
        for label, code in (STANDARD_POINTS[name].codes or {}).items():
            if code == value:
                return label
    return f"{value:g}" if isinstance(value, float) else str(value)


async def read_device(config: str, device_id: str, points: list[str], as_json: bool) -> int:
    site = load_site(config)
    device = _device(site, device_id)
    sched = _scheduler_for(site, device, points or None)
    poller = sched.pollers[device.id]
    try:
        reading = await sched.poll(poller)
    finally:
        sched.link.close()
    if as_json:
        print(json.dumps({"device": reading.device, "ts": reading.ts.isoformat(),
                          "values": reading.values, "failed": reading.failed,
                          "flags": reading.flags}))
    else:
        from gateway.cli.table import print_table

        rows = []
        for name, point in device.profile.points.items():
            if points and name not in points:
                continue
            if name in reading.values:
                rows.append([name, _display(name, reading.values[name], device),
                             point.unit or "", "good"])
            else:
                rows.append([name, "", point.unit or "", reading.failed.get(name, "failed")])
        print(f"{device.id} ({device.profile.spec.vendor} {device.profile.spec.model}) "
              f"read at {reading.ts.isoformat(timespec='seconds')}")
        print_table(["point", "value", "unit", "quality"], rows)
    return 0 if reading.values and not reading.failed else 1


def _parse_value(text: str) -> Value:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


async def write_point(config: str, device_id: str, point_name: str, text: str,
                      as_json: bool) -> int:
    """One write with the checks an MQTT command gets (declared writable, the profile's
    bounds, the setpoint policy against the unit's state read just before), audited
    like the daemon's writes. A commissioning engineer uses this with no daemon running,
    so it is the last place a 22 °C cooling setpoint could slip through."""
    site = load_site(config)
    device = _device(site, device_id)
    points = device.profile.points_for(device.config.index)
    point = points.get(point_name)
    problem = None
    if point is None:
        problem = f"profile {device.profile.id} has no point '{point_name}'"
    elif not point.writable:
        problem = f"point '{point_name}' is read-only"
    if problem is not None or point is None:
        print(f"{device_id}.{point_name}: {problem}", file=sys.stderr)
        return 2
    try:  # the profile's bounds and enum need no wire: refuse before opening the link
        point.encode(_parse_value(text))
    except CodecError as exc:
        print(f"{device_id}.{point_name}: {exc}", file=sys.stderr)
        return 2
    state = [p for p in ("power", "mode", "setpoint_c") if p in points and p != point_name]
    sched = _scheduler_for(site, device, [point_name, *state])
    try:
        before = await sched.poll(sched.pollers[device.id])
        now = datetime.now(UTC)
        body = json.dumps({"id": "escogw-write", "point": point_name,
                           "value": _parse_value(text), "sent_at": iso(now)}).encode()
        policy = _policy(site)
        command = parse_command(site, device_id, body, {device_id: before}, policy, now)
        # the actuator's last line too, as for every other path that writes to a unit
        guard = SafetyGuard(policy, {device_id: device.config.tags.get("zone")},
                            {device_id: before})
        why = guard.check(device_id, point_name, command.value, {})
        if why is not None:
            raise CommandRefused(f"{REFUSED}: {why}")
    except CommandRefused as exc:
        sched.link.close()
        print(f"{device_id}.{point_name}: {exc.reason}", file=sys.stderr)
        return 2
    try:
        future = sched.submit_write(device.id, point, command.value)
        await sched.serve_writes()
        outcome = await future
    finally:
        sched.link.close()
    _audit(site, device_id, point_name, before.values.get(point_name), command.value, outcome)
    result: dict[str, Any] = {"device": device_id, "point": point_name, "ok": outcome.ok,
                              "error": outcome.error, "applied": outcome.applied}
    if as_json:
        print(json.dumps(result))
    elif outcome.ok:
        print(f"{device_id}.{point_name} = {outcome.applied} (read back)")
    else:
        print(f"{device_id}.{point_name}: {outcome.error}", file=sys.stderr)
    return 0 if outcome.ok else 1


def _policy(site: Site) -> SetpointPolicy:
    """The site's rule file's limits and exemptions; the national limits with no
    exemption when the site has no rule file, or one that does not load."""
    path = rules_path_for(site, site.spec.gateway)
    if path is None:
        return SetpointPolicy()
    try:
        return load_rules(path, site).setpoint_policy()
    except ConfigError as exc:
        print(f"warning: {path} does not load ({len(exc.problems)} problem(s)); "
              "checking the national limits with no exemption", file=sys.stderr)
        return SetpointPolicy()


def _audit(site: Site, device_id: str, point: str, before: Value | None, after: Value,
           outcome: WriteOutcome) -> None:
    """The daemon's audit file (beside the outbox), so a site's writes are in one place."""
    path = Path(site.spec.gateway.outbox.path).parent / "control-audit.jsonl"
    try:
        log = AuditLog(path)
    except OSError as exc:
        print(f"warning: not audited, cannot open {path}: {exc.strerror}", file=sys.stderr)
        return
    try:
        log.write(write_record(device_id, point, before, after, outcome,
                               datetime.now(UTC), who=f"escogw write ({getpass.getuser()})"))
    finally:
        log.close()


def parse_units(spec: str) -> list[int]:
    """``1-10,20`` → [1..10, 20]; ids 0..255."""
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"'{part}' is not an id or a range like 1-10") from None
        if not 0 <= a <= b <= 255:
            raise ValueError(f"'{part}' is outside 0..255")
        out.extend(range(a, b + 1))
    return sorted(set(out))


def progress_bar(done: int, total: int, found: Sequence[object]) -> None:
    """One line on stderr, redrawn: how far a scan has come and what answered so far."""
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    ids = ", ".join(map(str, found[-8:])) or "none yet"
    sys.stderr.write(f"\r[{bar}] {done}/{total}  answering: {ids}")
    sys.stderr.flush()


async def answering_units(link: Link, units: list[int],
                          on_progress: Callable[[int, list[int]], None] | None = None,
                          ) -> list[dict[str, Any]]:
    """The Modbus unit ids among ``units`` that answer a one-register read, with how."""
    found: list[dict[str, Any]] = []
    for n, unit in enumerate(units, 1):
        try:
            await link.read(unit, "holding", 0, 1)
            found.append({"unit_id": unit, "answer": "registers"})
        except DeviceException as exc:
            # any well-formed exception reply means a device is there, except
            # a serial server's "target failed to respond"
            if exc.code not in (0x0A, 0x0B):
                found.append({"unit_id": unit, "answer": f"exception {exc.code:02X}"})
        except LinkError:
            pass
        if on_progress is not None:
            on_progress(n, [f["unit_id"] for f in found])
    return found


def open_link(site: Site, link_id: str, timeout_s: float | None) -> Link | None:
    """The link of a site by id (with another timeout), or None after saying why."""
    cfg = site.spec.links.get(link_id)
    if cfg is None:
        print(f"no link '{link_id}' (have: {', '.join(site.spec.links)})", file=sys.stderr)
        return None
    if timeout_s is not None:
        cfg = cfg.model_copy(update={"timeout_s": timeout_s})
    return make_link(link_id, cfg)


async def scan_link(config: str, link_id: str, units: list[int], timeout_s: float | None,
                    as_json: bool) -> int:
    site = load_site(config)
    link = open_link(site, link_id, timeout_s)
    if link is None:
        return 2
    if isinstance(link, MeterLink):
        print(f"link {link_id} carries DL/T 645 / CJ/T 188 meters, which have addresses, not "
              f"unit ids: run escogw discover --link {link_id}", file=sys.stderr)
        return 2
    show = sys.stderr.isatty() or not as_json
    try:
        found = await answering_units(
            link, units, (lambda n, ids: progress_bar(n, len(units), ids)) if show else None)
    finally:
        link.close()
        if show:
            sys.stderr.write("\n")
    if as_json:
        print(json.dumps({"link": link_id, "units": found}))
    else:
        from gateway.cli.table import print_table

        print_table(["unit id", "answer"], [[f["unit_id"], f["answer"]] for f in found])
    return 0 if found else 1
