"""The control loop: ticks the engine on the injected clock, sends its commands through the
actuator, records every change, and swaps rule sets whole (file change or SIGHUP).

Wiring in ``escogw run`` (the daemon owns the AcquisitionEngine and the MQTT
publisher)::

    loop = ControlLoop(site, rules_path, gateway.engine, clock, gateway.stream.latest,
                       audit=AuditLog(state_dir / "control-audit.jsonl"),
                       publish=publish_control_event)        # async (dict) -> None
    asyncio.create_task(loop.run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, loop.request_reload)
    command_handler.apply = loop.apply_command                # MQTT commands become overrides
    gateway.policy = loop.rules.setpoint_policy()            # one source for the limits

Start-up re-applies the current step of every schedule (nothing is marked
applied yet). A rule file that fails validation leaves the running set in
force and raises the alarm ``rules:invalid`` listing every ``file:line`` problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from gateway.acquisition.reading import Reading, WriteOutcome
from gateway.control import start_memory
from gateway.control.actuator import Actuator, Writer
from gateway.control.audit import AuditLog, alarm_record, change_record, notice_record
from gateway.control.engine import ControlEngine
from gateway.control.rules import load_rules
from gateway.control.ruleset import LAYER_NAMES, POINTS, RuleSet
from gateway.control.safety_guard import REFUSED, SafetyGuard
from gateway.control.state import Alarm, Decision, Notice, TickResult, UnitCommand, fmt, same
from gateway.core.clock import Clock, sleep_or_wake
from gateway.core.profile import Value
from gateway.core.site import Site
from gateway.core.sourcefile import ConfigError, Problem
from gateway.core.statefile import replace_whole

log = logging.getLogger("escogw.control")

EventSink = Callable[[dict[str, Any]], Awaitable[None]]


def _no_nan(name: str) -> float:
    """JSON's NaN and Infinity, which Python would read, are not numbers here."""
    raise ValueError(f"{name} is not a number")


class OperatorCommand(Protocol):
    """What ``gateway.commands.UnitCommand`` offers (id, device, point, value)."""

    @property
    def id(self) -> str: ...
    @property
    def device(self) -> str: ...
    @property
    def point(self) -> str: ...
    @property
    def value(self) -> Value: ...


class ControlLoop:
    def __init__(self, site: Site, rules_path: str | Path, writer: Writer | None, clock: Clock,
                 latest: Mapping[str, Reading], *, dry_run: bool = False,
                 audit: AuditLog | None = None, publish: EventSink | None = None,
                 outdoor: Callable[[], float | None] | None = None,
                 rules: RuleSet | None = None, tariffs_dir: Path | None = None,
                 watch: bool = True, memory: Path | None = None):
        """Raises ConfigError when the rule file is invalid at start-up. ``memory``: the
        file that keeps what the optimal starts learned across restarts
        (gateway/control/start_memory.py)."""
        self.site = site
        self.rules_path = Path(rules_path)
        self.clock = clock
        self.latest = latest
        self.dry_run = dry_run
        self.audit = audit
        self.publish = publish
        self.outdoor = outdoor
        self.tariffs_dir = tariffs_dir
        self.watch = watch
        if rules is None:
            rules = load_rules(self.rules_path, site, tariffs_dir=tariffs_dir)
        self.engine = ControlEngine(rules)
        self.guard = SafetyGuard.for_rules(rules, latest)
        self.actuator = Actuator(None if dry_run else writer, self.guard)
        self._stamps = self._stat(rules.files)
        #: the stamps of a change first seen, waiting a tick to hold still
        self._seen = self._stamps
        self._reload_requested = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = False
        self._pending: list[dict[str, Any]] = []
        #: the newest records, for status views and tests
        self.recent: deque[dict[str, Any]] = deque(maxlen=2000)
        self.ticks = 0
        self.failed_ticks = 0
        self.last_problems: list[Problem] = []
        dry = " — dry run, nothing is written" if dry_run else ""
        self._record(notice_record(Notice(clock.now(), None, "rules",
                                          f"rule set loaded: {rules.path} ({rules.digest}){dry}")))
        self.memory = memory
        self._remembered: dict[str, Any] | None = None
        if memory is not None:
            self._recall(memory)

    @property
    def rules(self) -> RuleSet:
        return self.engine.rules

    # -- running ------------------------------------------------------------------

    async def run(self) -> None:
        """Tick every ``engine.tick_s`` until ``stop``; the first tick re-applies the current
        step of every schedule. A tick that fails is counted and alarmed
        (``control:tick-failed``) and the loop goes on; ``ticks`` stands still meanwhile,
        so the systemd watchdog, which watches it, stops being fed."""
        while not self._stopping:
            try:
                await self.tick_once()
            except Exception as exc:  # never let one bad tick end control
                log.exception("control tick failed")
                self.failed_ticks += 1
                if "control:tick-failed" not in self.engine.active_alarms:
                    self._alarms(self.engine.raise_alarm(
                        "control:tick-failed", None, f"control tick failed: "
                        f"{type(exc).__name__}: {exc}"[:300], self.clock.now()))
                    await self._flush()
            else:
                self._alarms(self.engine.clear_alarm("control:tick-failed", self.clock.now()))
                await self._flush()
            await self._idle(self.rules.engine.tick_s)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _idle(self, seconds: float) -> None:
        self._wake.clear()
        if self._stopping or self._reload_requested:
            return
        await sleep_or_wake(self.clock, seconds, self._wake)

    async def tick_once(self, now: datetime | None = None) -> TickResult:
        async with self._lock:
            await self._check_rules()
            now = now or self.clock.now()
            result = self.engine.tick(now, self.latest, self._outdoor())
            self.ticks += 1
            await self._remember()
            for n in result.notices:
                self._record(notice_record(n))
            self._alarms(result.alarms)
            await self._send(result.commands)
            await self._flush()
            return result

    def _recall(self, path: Path) -> None:
        """Restore the learned warm-up and cool-down models. A file that is not sound is
        left out whole and kept aside as ``<name>.bad`` (the next lesson writes a new
        one), with a notice saying why; nothing in it can stop the gateway starting."""
        problems: list[Problem] = []
        try:
            if path.stat().st_size > start_memory.MAX_BYTES:
                problems = [Problem(str(path), None, "", f"larger than "
                                    f"{start_memory.MAX_BYTES} bytes: not read")]
            else:
                problems = start_memory.restore(
                    json.loads(path.read_bytes(), parse_int=float, parse_constant=_no_nan),
                    self.engine.states, str(path))
        except FileNotFoundError:
            return
        except json.JSONDecodeError as exc:
            problems = [Problem(str(path), exc.lineno, "", f"not JSON: {exc.msg}")]
        except (OSError, UnicodeDecodeError) as exc:
            problems = [Problem(str(path), None, "", f"cannot read: {exc}")]
        except (ValueError, RecursionError) as exc:  # NaN, or nested past any sense
            problems = [Problem(str(path), None, "", f"not a learned-models file: "
                                f"{str(exc)[:80] or type(exc).__name__}")]
        if problems:
            text = "; ".join(str(p) for p in problems[:5])
            message = "learned warm-up models not restored, starting from the rules' " \
                      f"first guesses: {text}"
            log.warning("%s", message)
            with contextlib.suppress(OSError):
                os.replace(path, path.with_name(path.name + ".bad"))
        else:
            message = f"learned warm-up models restored from {path}"
            self._remembered = start_memory.snapshot(self.engine.states)
        self._record(notice_record(Notice(self.clock.now(), None, "start", message)))

    async def _remember(self) -> None:
        """Write the learned models when a unit has learned something new (a few times a
        day), whole (gateway/core/statefile.py), off the event loop. Not in a dry run: what
        it learns there is of rooms it did not control."""
        if self.memory is None or self.dry_run:
            return
        now = start_memory.snapshot(self.engine.states)
        if now == self._remembered or (self._remembered is None and not now["units"]):
            return
        self._remembered = now
        try:
            await asyncio.to_thread(replace_whole, self.memory,
                                    json.dumps(now, indent=1, sort_keys=True) + "\n")
        except OSError as exc:  # once per lesson, not per tick
            log.warning("cannot keep the learned warm-up models in %s: %s", self.memory, exc)

    def _outdoor(self) -> float | None:
        if self.outdoor is None:
            return None
        try:
            return self.outdoor()
        except Exception:
            log.exception("outdoor temperature source failed")
            return None

    async def _send(self, commands: dict[str, list[UnitCommand]]) -> list[tuple[UnitCommand,
                                                                          WriteOutcome]]:
        if not commands:
            return []
        if self.dry_run:
            at = self.clock.now()
            for cmds in commands.values():
                for cmd in cmds:
                    self.engine.note_dry_run(cmd)
                    self._record(change_record(cmd, None, at, dry_run=True))
            return []
        outcomes = await self.actuator.apply(commands)
        at = self.clock.now()
        for cmd, outcome in outcomes:
            self._alarms(self.engine.note_outcome(cmd, outcome, at))
            if not outcome.ok and (outcome.error or "").startswith(REFUSED):
                self._alarms(self.engine.raise_alarm(
                    f"guard:{cmd.device}", cmd.device, f"{cmd.device}.{cmd.point} = "
                    f"{cmd.value} from {cmd.rule}: {outcome.error}", at))
            self._record(change_record(cmd, outcome, at))
            if not outcome.ok:
                log.warning("%s.%s = %s not applied: %s", cmd.device, cmd.point, cmd.value,
                            outcome.error)
        return outcomes

    def _alarms(self, alarms: list[Alarm]) -> None:
        for a in alarms:
            (log.warning if a.active else log.info)("alarm %s: %s", a.key, a.message)
            self._record(alarm_record(a))

    def _record(self, rec: dict[str, Any]) -> None:
        self.recent.append(rec)
        if self.audit is not None:
            try:
                self.audit.write(rec)
            except OSError:
                log.exception("audit log write failed")
        if self.publish is not None:
            self._pending.append(rec)

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if self.publish is None:
            return
        for rec in pending:
            try:
                await self.publish(rec)
            except Exception:
                log.exception("publishing a control event failed")

    # -- rule sets --------------------------------------------------------------------

    @staticmethod
    def _stat(files: tuple[str, ...]) -> dict[str, tuple[int, int] | None]:
        out: dict[str, tuple[int, int] | None] = {}
        for f in files:
            try:
                s = Path(f).stat()
                out[f] = (s.st_mtime_ns, s.st_size)
            except OSError:
                out[f] = None
        return out

    def request_reload(self) -> None:
        """SIGHUP: reload before the next tick (and tick right away)."""
        self._reload_requested = True
        self._wake.set()

    async def _check_rules(self) -> None:
        stamps = self._stat(tuple(self._stamps)) if self.watch else self._stamps
        if stamps != self._stamps and stamps != self._seen:
            # changed since the last look: perhaps still being written; load it once it
            # holds still for a tick, so a half-copied file is never even tried
            self._seen = stamps
            return
        if stamps != self._stamps or self._reload_requested:
            self._reload_requested = False
            await self._reload()

    async def reload_between_ticks(self) -> list[Problem]:
        """Reload once no tick is under way (a tick awaits its writes holding the lock:
        its commands and their records belong to the rules they were computed with)."""
        async with self._lock:
            return await self._reload()

    async def _reload(self) -> list[Problem]:
        """Validate the rule file whole, off the event loop (polling never waits for it);
        swap it in atomically, or keep the running set and raise ``rules:invalid``.

        Returns the problems (empty when the new set is in force).
        """
        # stamped before reading: an edit saved while it loads is seen on the next tick
        stamps = self._stat((*self._stamps, str(self.rules_path)))
        loaded = await asyncio.to_thread(self._load)
        now = self.clock.now()
        if isinstance(loaded, list):
            self._stamps = self._seen = stamps
            self.last_problems = loaded
            text = "; ".join(str(p) for p in loaded[:20])
            more = f" (+{len(loaded) - 20} more)" if len(loaded) > 20 else ""
            self._alarms(self.engine.raise_alarm(
                "rules:invalid", None, f"rule file rejected, the previous set "
                f"({self.rules.digest}) stays in force: {text}{more}", now))
            return loaded
        old = self.rules.digest
        self.engine.replace_rules(loaded)
        self.guard.follow(loaded)
        self._stamps = self._seen = {f: stamps.get(f) for f in loaded.files} \
            if set(loaded.files) <= set(stamps) else self._stat(loaded.files)
        self.last_problems = []
        self._alarms(self.engine.clear_alarm("rules:invalid", now))
        self._record(notice_record(Notice(now, None, "rules",
                                          f"rule set reloaded: {old} → {loaded.digest}")))
        return []

    def _load(self) -> RuleSet | list[Problem]:
        """The new rule set, or why not. Nothing a file holds may end control: anything
        but a ConfigError is a loader bug, reported as a problem of the file all the same."""
        try:
            return load_rules(self.rules_path, self.site, tariffs_dir=self.tariffs_dir)
        except ConfigError as exc:
            return exc.problems
        except Exception as exc:
            log.exception("loading %s failed", self.rules_path)
            return [Problem(str(self.rules_path), None, "",
                            f"could not be loaded ({type(exc).__name__}: {exc})"[:300])]

    # -- operators ----------------------------------------------------------------------

    def set_kill_switch(self, reason: str | None) -> None:
        self.engine.set_kill_switch(reason)
        self._record(notice_record(Notice(self.clock.now(), None, "safety:kill-switch",
                                          f"kill switch on: {reason}" if reason
                                          else "kill switch off: control resumes")))

    async def override(self, device: str, values: Mapping[str, int | float], *,
                       override_id: str,
                       duration_s: float | None = None, source: str = "cli",
                       who: str | None = None) -> WriteOutcome:
        """Hold points of a unit for a while (clamps and protection still apply); the unit
        goes back to its schedule by itself when the override expires."""
        async with self._lock:
            now = self.clock.now()
            try:
                ov = self.engine.add_override(device, values, now, override_id=override_id,
                                              duration_s=duration_s, source=source, who=who)
            except (KeyError, ValueError) as exc:
                return WriteOutcome(False, f"refused: {exc.args[0] if exc.args else exc}")
            self._record(notice_record(Notice(now, device, f"override:{ov.id}",
                                              f"{ov.describe(self.rules.tz)} added")))
            result, who_decided = self.engine.tick_unit(device, now, self.latest,
                                                        self._outdoor())
            self._alarms(result.alarms)
            outcomes = await self._send(result.commands)
            await self._flush()
        return self._answer(device, ov.id, values, outcomes, who_decided)

    def _answer(self, device: str, override_id: str, values: Mapping[str, int | float],
                outcomes: list[tuple[UnitCommand, WriteOutcome]],
                who_decided: list[Decision | None]) -> WriteOutcome:
        """ok only when the unit now holds every value asked for; otherwise what it holds,
        and which layer holds it there (and until when, where the layer says)."""
        written = {POINTS.index(c.point): o for c, o in outcomes}
        points = [POINTS.index(p) for p in values]
        for p in points:
            failed = written.get(p)
            if failed is not None and not failed.ok:
                return WriteOutcome(False, failed.error, failed.applied)
        if self.dry_run and any(p in written or not same(p, self.engine.states[device]
                                                         .current(p), values[POINTS[p]])
                                for p in points):
            return WriteOutcome(False, "dry run: nothing is written")
        holds: int | float | None = None
        for p in points:
            applied = written[p].applied if p in written else None
            got = applied if isinstance(applied, int | float) \
                else self.engine.states[device].current(p)
            holds = got
            if same(p, got, values[POINTS[p]]):
                continue
            w = who_decided[p]
            why = (f"{LAYER_NAMES[w.layer]} ({w.rule}): {w.reason}" if w is not None
                   else "no layer decides it now")
            return WriteOutcome(False, f"accepted as override {override_id}, but {POINTS[p]} "
                                       f"is {fmt(p, got)}, not {fmt(p, values[POINTS[p]])}: "
                                       f"{why}", got)
        return WriteOutcome(True, None, holds)

    async def apply_command(self, command: OperatorCommand) -> WriteOutcome:
        """The MQTT command path's ``apply``: the command becomes an override."""
        value = command.value
        # gateway.commands.parse_command already turned an enum name into its standard code
        assert not isinstance(value, str), f"{command.point}: {value!r} is not a standard value"
        return await self.override(command.device, {command.point: value},
                                   override_id=command.id, source="mqtt")

    def explain(self, device: str, at: datetime | None = None) -> dict[str, Any]:
        return self.engine.explain_unit(device, at or self.clock.now(), self.latest)

    async def close(self) -> None:
        self.stop()
        with contextlib.suppress(Exception):
            await self._flush()
        if self.audit is not None:
            self.audit.close()
