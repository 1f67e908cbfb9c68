"""What ``escogw read / write / scan`` do on the wire, through the same link and scheduler code
as the running gateway (so the CLI shows exactly what the daemon would see)."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.acquisition.link import BadReply, DeviceException, Link, LinkDown, LinkError
from gateway.acquisition.meter_link import MeterLink
from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.acquisition.scheduler import LinkScheduler
from gateway.acquisition.transports import make_link
from gateway.cli.library_log import library_log_captured
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
from gateway.i18n import N_, _, ngettext
from gateway.uplink.commands import CommandRefused, parse_command
from gateway.uplink.messages import iso


def _device(site: Site, device_id: str) -> Device:
    device = site.devices.get(device_id)
    if device is None:
        raise ConfigError([Problem(site.path, None, "devices", _(
            "no device '{device}' (have: {devices})").format(
                device=device_id, devices=", ".join(site.devices)))])
    return device


def _scheduler_for(site: Site, device: Device, points: list[str] | None) -> LinkScheduler:
    if points:
        missing = [p for p in points if p not in device.profile.points]
        if missing:
            raise ConfigError([Problem(device.profile.path, None, "points", _(
                "profile {profile} has no point {points}").format(
                    profile=device.profile.id, points=", ".join(missing)))])
        device = Device(device.id, device.config.model_copy(update={"points": points}),
                        device.profile)

    async def discard(reading: Reading) -> None:
        return None

    link = make_link(device.link, site.spec.links[device.link])
    return LinkScheduler(link, [device], SystemClock(), discard)


def number(value: float) -> str:
    """A measured value as people read it: two decimals at most (three below 1),
    no trailing zeros — 229.87, 26, 0.987 (floats from registers carry noise)."""
    text = f"{value:.{3 if abs(value) < 1 else 2}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def display(name: str, value: Value | None) -> str:
    """A point's value: enum points by name (cool, heat), in the user's language."""
    from gateway.control.reason_text import point_value

    if value is None:
        return ""
    standard = STANDARD_POINTS.get(name)
    if standard is not None and standard.codes and isinstance(value, int):
        # the reading holds the standard code (semantics.MODE_CODES, FAN_CODES, ...)
        for label, code in standard.codes.items():
            if code == value:
                return point_value(label)
    return number(value) if isinstance(value, float) else str(value)


def local_time(ts: datetime, site: Site) -> str:
    """A reading's time in the site's time zone, to the second, with its offset."""
    return ts.astimezone(site.tz).isoformat(sep=" ", timespec="seconds")


#: quality words of the read table (the scheduler's failure kinds stay as they are)
QUALITY = {"good": N_("good"), "link_down": N_("link down"), "timeout": N_("no reply"),
           "bad_reply": N_("garbled reply"), "stale_reply": N_("stale reply"),
           "short_reply": N_("short reply"), "failed": N_("failed"),
           "not polled: device not answering": N_("not polled: device not answering"),
           "not polled: device busy": N_("not polled: device busy")}


def _quality(text: str) -> str:
    if text in QUALITY:
        return _(QUALITY[text])
    return answer_text(text) if text.startswith("exception ") else text


async def read_device(config: str, device_id: str, points: list[str], as_json: bool) -> int:
    site = load_site(config)
    device = _device(site, device_id)
    sched = _scheduler_for(site, device, points or None)
    poller = sched.pollers[device.id]
    try:
        with library_log_captured():
            reading = await sched.poll(poller)
    finally:
        sched.link.close()
    if not reading.values and poller.health.error is not None:
        print(await _silent(site, device, poller.health.error, reading), file=sys.stderr)
        return 1
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
                rows.append([name, display(name, reading.values[name]),
                             point.unit or "", _quality("good")])
            else:
                rows.append([name, "", point.unit or "",
                             _quality(reading.failed.get(name, "failed"))])
        print(_("{device} ({vendor} {model}) read at {time}").format(
            device=device.id, vendor=device.profile.spec.vendor, model=device.profile.spec.model,
            time=local_time(reading.ts, site)))
        print_table([_("point"), _("value"), _("unit"), _("quality")], rows)
    return 0 if reading.values and not reading.failed else 1


async def _silent(site: Site, device: Device, error: str, reading: Reading) -> str:
    """One line for a device that gave nothing: which, where, and why."""
    from gateway.cli.reach import address, open_error

    cfg = site.spec.links[device.link]
    where = _("{address} (link {link})").format(address=address(cfg), link=device.link)
    kinds = set(reading.failed.values())
    cause: str | None = None
    if "link_down" in kinds:
        cause = await open_error(cfg) or _("the link did not open")
    elif "timeout" in kinds:
        if device.config.address is not None:
            cause = _("no reply from meter {address} within {seconds:g} s").format(
                address=device.config.address, seconds=cfg.timeout_s)
        else:
            cause = _("no reply from unit {unit} within {seconds:g} s").format(
                unit=device.config.unit_id, seconds=cfg.timeout_s)
    elif kinds & {"bad_reply", "stale_reply", "short_reply"}:
        cause = _("garbled replies: {detail}").format(detail=error)
    return _("{device}: cannot be read at {where}: {cause}").format(
        device=device.id, where=where, cause=cause or error)


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
        problem = _("profile {profile} has no point '{point}'").format(
            profile=device.profile.id, point=point_name)
    elif not point.writable:
        problem = _("point '{point}' is read-only").format(point=point_name)
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
        with library_log_captured():
            before = await sched.poll(sched.pollers[device.id])
        poller = sched.pollers[device.id]
        if not before.values and poller.health.error is not None:
            sched.link.close()
            print(await _silent(site, device, poller.health.error, before), file=sys.stderr)
            return 1
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
        with library_log_captured():
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
        print(_("{device}.{point} = {value} (read back)").format(
            device=device_id, point=point_name,
            value=display(point_name, outcome.applied)))
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
        problems = ngettext("{n} problem", "{n} problems", len(exc.problems)).format(
            n=len(exc.problems))
        print(_("warning: {path} does not load ({problems}); checking the national limits "
                "with no exemption").format(path=path, problems=problems), file=sys.stderr)
        return SetpointPolicy()


def _audit(site: Site, device_id: str, point: str, before: Value | None, after: Value,
           outcome: WriteOutcome) -> None:
    """The daemon's audit file (beside the outbox), so a site's writes are in one place."""
    path = Path(site.spec.gateway.outbox.path).parent / "control-audit.jsonl"
    try:
        log = AuditLog(path)
    except OSError as exc:
        print(_("warning: not audited, cannot open {path}: {error}").format(
            path=path, error=exc.strerror), file=sys.stderr)
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
        lo, _sep, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(_("'{part}' is not an id or a range like 1-10").format(
                part=part)) from None
        if not 0 <= a <= b <= 255:
            raise ValueError(_("'{part}' is outside 0..255").format(part=part))
        out.extend(range(a, b + 1))
    return sorted(set(out))


def progress_bar(done: int, total: int, found: Sequence[object]) -> None:
    """One line on stderr, redrawn: how far a scan has come and what answered so far."""
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    ids = ", ".join(map(str, found[-8:])) or _("none yet")
    sys.stderr.write("\r" + _("[{bar}] {done}/{total}  answering: {ids}").format(
        bar=bar, done=done, total=total, ids=ids))
    sys.stderr.flush()


@dataclass
class Silence:
    """What did not answer in a scan: ids in silence, ids that gave garbled replies,
    and whether the link itself was down (then nothing could answer)."""

    silent: list[int] = field(default_factory=list)
    garbled: list[int] = field(default_factory=list)
    link_down: str | None = None

    def summary(self) -> str | None:
        """One line for the end of a scan (None: every id answered)."""
        parts = []
        if self.silent:
            parts.append(ngettext("{n} id gave no answer", "{n} ids gave no answer",
                                  len(self.silent)).format(n=len(self.silent)))
        if self.garbled:
            parts.append(ngettext("{n} id gave garbled replies ({ids})",
                                  "{n} ids gave garbled replies ({ids})",
                                  len(self.garbled)).format(
                n=len(self.garbled), ids=", ".join(map(str, self.garbled))))
        return _("; ").join(parts) if parts else None


async def answering_units(link: Link, units: list[int],
                          on_progress: Callable[[int, list[int]], None] | None = None,
                          silence: Silence | None = None) -> list[dict[str, Any]]:
    """The Modbus unit ids among ``units`` that answer a one-register read, with how;
    ``silence`` collects the others."""
    found: list[dict[str, Any]] = []
    silence = silence if silence is not None else Silence()
    for n, unit in enumerate(units, 1):
        try:
            await link.read(unit, "holding", 0, 1)
            found.append({"unit_id": unit, "answer": "registers"})
        except DeviceException as exc:
            # any well-formed exception reply means a device is there, except
            # a serial server's "target failed to respond"
            if exc.code not in (0x0A, 0x0B):
                found.append({"unit_id": unit, "answer": f"exception {exc.code:02X}"})
            else:
                silence.silent.append(unit)
        except BadReply:
            silence.garbled.append(unit)
        except LinkDown as exc:  # nothing more can be asked: say so rather than go on
            silence.link_down = str(exc)
            break
        except LinkError:
            silence.silent.append(unit)
        if on_progress is not None:
            on_progress(n, [f["unit_id"] for f in found])
    return found


def answer_text(answer: str) -> str:
    """``registers`` / ``exception 02`` as the table shows them."""
    if answer == "registers":
        return _("registers")
    code = answer.removeprefix("exception ")
    return _("exception {code}").format(code=code) if code != answer else answer


def open_link(site: Site, link_id: str, timeout_s: float | None) -> Link | None:
    """The link of a site by id (with another timeout), or None after saying why."""
    cfg = site.spec.links.get(link_id)
    if cfg is None:
        print(_("no link '{link}' (have: {links})").format(
            link=link_id, links=", ".join(site.spec.links)), file=sys.stderr)
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
        print(_("link {link} carries DL/T 645 / CJ/T 188 meters, which have addresses, not "
                "unit ids: run escogw discover --link {link}").format(link=link_id),
              file=sys.stderr)
        return 2
    show = sys.stderr.isatty() or not as_json
    silence = Silence()
    try:
        with library_log_captured() as captured:
            found = await answering_units(
                link, units, (lambda n, ids: progress_bar(n, len(units), ids)) if show
                else None, silence)
    finally:
        link.close()
        if show:
            sys.stderr.write("\n")
    await say_silence(silence, captured.records, site, link_id)
    if silence.link_down is not None:
        return 1
    if as_json:
        print(json.dumps({"link": link_id, "units": found, "silent": silence.silent,
                          "garbled": silence.garbled}))
    else:
        from gateway.cli.table import print_table

        print_table([_("unit id"), _("answer")],
                    [[f["unit_id"], answer_text(f["answer"])] for f in found])
    return 0 if found else 1


async def say_silence(silence: Silence, library_records: int, site: Site, link_id: str) -> None:
    """The end of a scan on stderr: what did not answer, once, and where the details are;
    or, when the link itself did not open, where it goes and why."""
    if silence.link_down is not None:
        from gateway.cli.reach import address, open_error

        cfg = site.spec.links[link_id]
        cause = await open_error(cfg) or silence.link_down
        print(_("link {link} did not open at {address}: {cause}").format(
            link=link_id, address=address(cfg), cause=cause), file=sys.stderr)
        return
    summary = silence.summary()
    if summary is None:
        return
    if library_records:
        summary += _(" (details: --log-level DEBUG)")
    print(summary, file=sys.stderr)
