"""The gateway's fleet agent: takes the platform's desired state, applies it whole or not
at all, reports, watches the site's health and rolls back by itself; publishes the
retained health summary.

A bundle carries a rule file, a tariff or both. It goes through four gates, and what
runs changes only past the last:

1. the payload is a bundle (``bundle.parse_bundle``: format, version, digest);
2. its files, staged beside their live places (the tariff in ``tariffs/`` beside the
   site file, where both the rules and the accounting look first), pass exactly what
   ``escogw check`` runs (``site_check.check_site``) together, off the event loop;
3. each staged file replaces its live one with ``os.replace`` (undone if one fails)
   and the daemon's own reload (the SIGHUP path: validated whole, swapped between
   ticks) takes them; should that reload refuse, the previous files are put back;
4. for ``rollback_window_s`` the health is compared with the facts before the apply
   (``health.verdict``); a failure puts the previous files back the same way.

The desired state is retained on the broker, so a gateway that was offline gets it
when it connects again. What runs is kept in ``fleet-state.json`` beside the outbox;
every step is appended to ``fleet-audit.jsonl`` there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gateway.core.clock import Clock
from gateway.core.settings import FleetSettings
from gateway.core.site import Site
from gateway.core.sourcefile import Problem
from gateway.core.statefile import replace_whole, replace_with
from gateway.core.tou import site_tariffs_dir
from gateway.fleet.bundle import Bundle, BundleError, parse_bundle
from gateway.fleet.reported import Report
from gateway.fleet.site_check import check_bundle
from gateway.fleet.site_health import HealthFacts, verdict
from gateway.uplink.messages import Topics, iso

log = logging.getLogger("escogw.fleet")

Publish = Callable[[str, bytes], Awaitable[None]]
Reload = Callable[[], Awaitable[list[str]]]
#: asks the daemon to exit so that systemd starts it again on the new site file
Restart = Callable[[], None]
#: a refused or rolled-back digest is remembered, so a retained desired state that keeps
#: arriving (every reconnect) is not applied again and again; the newest few are kept
MAX_REMEMBERED = 50


class FleetAgent:
    def __init__(self, site: Site, topics: Topics, settings: FleetSettings,
                 rules_path: Path | None, state_dir: Path, clock: Clock,
                 facts: Callable[[], HealthFacts], publish: Publish, reload: Reload,
                 restart: Restart | None = None):
        self.site = site
        self.topics = topics
        self.settings = settings
        self.rules_path = rules_path
        self.state_path = state_dir / "fleet-state.json"
        self.audit_path = state_dir / "fleet-audit.jsonl"
        self.clock = clock
        self.facts = facts
        self.publish = publish
        self.reload = reload
        self.restart = restart
        self.state = self._load_state()
        #: set once a health watch carried over a restart (a pushed site file) has ended;
        #: desired states wait for it, so the retained one is not applied a second time
        self._resumed = asyncio.Event()
        self._resume_task: asyncio.Task[None] | None = None
        if not self.state.get("pending"):
            self._resumed.set()
        self._started = clock.monotonic()
        #: one bundle at a time, from arrival to the end of its health watch: a newer one
        #: waits for the verdict on the one before it
        self._lock = asyncio.Lock()
        #: reports published, newest last (for tests and the demo)
        self.reports: list[Report] = []

    # -- what runs --------------------------------------------------------------

    @property
    def version(self) -> str | None:
        v = self.state.get("version")
        return v if isinstance(v, str) else None

    def _load_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {"version": None, "digest": None, "failed": {}}
        return data if isinstance(data, dict) else {"version": None, "digest": None,
                                                    "failed": {}}

    async def _save_state(self) -> None:
        """Kept whole across a power cut (two fsyncs): written off the event loop."""
        await asyncio.to_thread(replace_whole, self.state_path,
                                json.dumps(self.state, ensure_ascii=False))

    def _audit(self, event: str, **fields: Any) -> None:
        record = {"ts": iso(self.clock.now()), "site": self.site.id, "event": event, **fields}
        with self.audit_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    async def _report(self, state: str, bundle: Bundle | None = None,
                      reasons: list[str] | None = None) -> None:
        rules_name = rules_text = None
        if self.rules_path is not None:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                rules_text = self.rules_path.read_text(encoding="utf-8")
                rules_name = self.state.get("rules_name") or self.rules_path.name
        report = Report(self.site.id, iso(self.clock.now()), state, self.version,
                        self.state.get("digest"),
                        bundle.version if bundle else self.state.get("desired_version"),
                        bundle.digest if bundle else self.state.get("desired_digest"),
                        bundle.pushed_by if bundle else None, list(reasons or [])[:50],
                        rules_name, rules_text)
        self.reports.append(report)
        del self.reports[:-100]
        await self.publish(self.topics.fleet_reported, report.payload())

    async def start(self) -> None:
        """The first report: what runs, before any desired state arrives; then the health
        watch of a site file applied just before this start, if there is one."""
        await self._report(self.state.get("last_state") or "running")
        if self.state.get("pending"):  # beside the health summaries, which go on
            self._resume_task = asyncio.create_task(self._resume(), name="fleet-resume")

    async def _resume(self) -> None:
        """The health watch of a pushed site file, after the restart that applied it."""
        pending: dict[str, Any] = self.state["pending"]
        bundle = Bundle(pending["version"], pending["pushed_by"], pending["pushed_at"], {},
                        pending["digest"])
        swaps = [_Swap(w["kind"], Path(w["live"]), Path(w["live"]),
                       Path(w["previous"]) if w["previous"] else None)
                 for w in pending["swaps"]]
        try:
            async with self._lock:
                if pending.get("rolled_back"):  # the restart after a rollback: say so
                    del self.state["pending"]
                    await self._refuse("rolled-back", bundle, pending["reasons"])
                    return
                log.info("fleet: bundle %s: the site file is in force; watching health for "
                         "%.0f s after %.0f s to settle", bundle.version,
                         self.settings.rollback_window_s, self.settings.settle_s)
                await self._set_state("watching", bundle)
                await self.clock.sleep(self.settings.settle_s)
                before = HealthFacts(**{**pending["before"],
                                        "failing_devices": tuple(pending["before"]
                                                                 ["failing_devices"]),
                                        "alarms": tuple(pending["before"]["alarms"])})
                reasons = await self._health_during_window(before, need_broker=True)
                if reasons:
                    await asyncio.to_thread(_swap_back, swaps)
                    said = [f"health check failed after restart: {r}" for r in reasons]
                    pending.update(rolled_back=True, reasons=said)
                    old = self.state.get("previous") or {}
                    self.state.update(version=old.get("version"), digest=old.get("digest"),
                                      rules_name=old.get("rules_name"))
                    # remembered now: the retained desired state, waiting for the lock, must
                    # not install the file again before this process exits
                    self.state.setdefault("failed", {})[bundle.digest] = {
                        "version": bundle.version, "state": "rolled-back", "reasons": said}
                    await self._save_state()
                    log.error("fleet: bundle %s rolled back (%s); restarting on the previous "
                              "site file", bundle.version, "; ".join(reasons))
                    self._request_restart()
                    return
                del self.state["pending"]
                self._audit("applied", version=bundle.version, digest=bundle.digest,
                            pushed_by=bundle.pushed_by, files=["site"])
                await self._set_state("applied", bundle)
        finally:
            self._resumed.set()

    def _request_restart(self) -> None:
        if self.restart is None:  # not under the daemon (tests of the pure parts)
            log.error("fleet: a restart is needed and nobody can do it")
            return
        self.restart()

    # -- the desired state -------------------------------------------------------

    async def on_desired(self, topic: str, payload: bytes) -> None:
        """The platform's desired state arrived (live or retained after a reconnect)."""
        if not payload:
            return  # the platform cleared it: nothing is desired, what runs stays
        await self._resumed.wait()
        async with self._lock:
            try:
                bundle = parse_bundle(payload)
            except BundleError as exc:
                reasons = [f"{topic}: {exc}"]
                self._audit("refused", reasons=reasons)
                log.error("fleet: desired state refused: %s", reasons[0])
                await self._set_state("refused", None, reasons)
                return
            if bundle.digest == self.state.get("digest"):
                if self.state.get("version") != bundle.version:
                    self.state["version"] = bundle.version
                    await self._save_state()
                await self._set_state("applied", bundle)
                return
            failed = self.state.get("failed", {})
            if bundle.digest in failed:
                await self._set_state(failed[bundle.digest]["state"], bundle,
                                      failed[bundle.digest]["reasons"])
                return
            self._audit("received", version=bundle.version, digest=bundle.digest,
                        pushed_by=bundle.pushed_by, pushed_at=bundle.pushed_at)
            settling = self._started + self.settings.settle_s - self.clock.monotonic()
            if settling > 0:
                log.info("fleet: bundle %s waits %.0f s for the site to settle after start-up",
                         bundle.version, settling)
                await self.clock.sleep(settling)
            await self._apply(bundle)

    async def _set_state(self, state: str, bundle: Bundle | None,
                         reasons: list[str] | None = None) -> None:
        self.state["last_state"] = state
        if bundle is not None:
            self.state["desired_version"] = bundle.version
            self.state["desired_digest"] = bundle.digest
        await self._save_state()
        await self._report(state, bundle, reasons)

    async def _refuse(self, state: str, bundle: Bundle, reasons: list[str]) -> None:
        failed: dict[str, Any] = self.state.setdefault("failed", {})
        failed[bundle.digest] = {"version": bundle.version, "state": state, "reasons": reasons}
        for old in list(failed)[:-MAX_REMEMBERED]:
            del failed[old]
        self._audit(state, version=bundle.version, digest=bundle.digest,
                    pushed_by=bundle.pushed_by, reasons=reasons)
        log.error("fleet: bundle %s %s: %s", bundle.version, state, "; ".join(reasons[:5]))
        await self._set_state(state, bundle, reasons)

    async def _reload(self) -> list[str]:
        """The daemon's reload; a failure inside it is a refusal, never a half-applied
        bundle or a dead agent."""
        try:
            return await self.reload()
        except Exception as exc:
            log.exception("fleet: reload failed")
            return [f"reload failed: {type(exc).__name__}: {exc}"]

    def _targets(self, bundle: Bundle) -> tuple[list[_Swap], list[str]]:
        """Where each file of ``bundle`` goes, or why it cannot go anywhere."""
        swaps: list[_Swap] = []
        reasons: list[str] = []
        if "rules" in bundle.files:
            if self.rules_path is None:
                reasons.append("this gateway runs no rule file (gateway.rules is not set): "
                               "nothing to replace")
            else:
                live = self.rules_path
                swaps.append(_Swap("rules", live, live.with_name(f".{live.name}.fleet-new")))
        if "site" in bundle.files:
            live = Path(self.site.path)
            swaps.append(_Swap("site", live, live.with_name(f".{live.name}.fleet-new")))
        if "tariff" in bundle.files:
            tariff_id = self.site.spec.site.tariff
            name = bundle.files["tariff"].name
            if tariff_id is None:
                reasons.append("files.tariff: the site file names no tariff (site.tariff), so "
                               "no tariff can be replaced")
            elif name != f"{tariff_id}.yaml":
                reasons.append(f"files.tariff.name: {name!r}, but this site prices with "
                               f"{tariff_id!r}: the file must be named {tariff_id}.yaml")
            else:
                live = site_tariffs_dir(self.site.path) / name
                # staged in a folder of its own, so the check finds it and nothing else
                swaps.append(_Swap("tariff", live, live.parent / ".fleet-new" / name))
        return swaps, reasons

    async def _apply(self, bundle: Bundle) -> None:
        swaps, reasons = self._targets(bundle)
        if reasons:
            await self._refuse("refused", bundle, reasons)
            return
        try:
            for swap in swaps:
                swap.staged.parent.mkdir(parents=True, exist_ok=True)
                swap.staged.write_text(bundle.files[swap.kind].text, encoding="utf-8")
            rules = next((w.staged for w in swaps if w.kind == "rules"), self.rules_path)
            tariffs = next((w.staged.parent for w in swaps if w.kind == "tariff"), None)
            site_file = next((w.staged for w in swaps if w.kind == "site"), None)
            outcome = await asyncio.to_thread(check_bundle, self.site, site_file, rules,
                                              tariffs)
        except OSError as exc:
            _discard(swaps)
            await self._refuse("refused", bundle, [f"{exc.filename}: could not stage: "
                                                   f"{exc.strerror}"])
            return
        if outcome.problems:
            named = {str(w.staged): bundle.files[w.kind].name for w in swaps}
            _discard(swaps)
            await self._refuse("refused", bundle, [str(_as_named(p, named))
                                                   for p in outcome.problems])
            return
        before = self.facts()
        old_state = {k: self.state.get(k) for k in ("version", "digest", "rules_name")}
        try:
            await asyncio.to_thread(_swap_in, swaps)
        except OSError as exc:
            _discard(swaps)
            await self._refuse("refused", bundle, [f"{exc.filename}: could not replace: "
                                                   f"{exc.strerror}"])
            return
        if "site" in bundle.files:
            await self._restart_into(bundle, before, old_state, swaps)
            return
        problems = await self._reload()
        if problems:  # the daemon's reload refused it after all: put the old files back
            await asyncio.to_thread(_swap_back, swaps)
            await self._reload()
            await self._refuse("refused", bundle, problems)
            return
        if "rules" in bundle.files:
            self.state["rules_name"] = bundle.files["rules"].name
        self.state.update(version=bundle.version, digest=bundle.digest, previous=old_state)
        self._audit("applied", version=bundle.version, digest=bundle.digest,
                    pushed_by=bundle.pushed_by, files=sorted(bundle.files))
        log.info("fleet: bundle %s applied (%s); watching health for %.0f s", bundle.version,
                 bundle.digest[:19], self.settings.rollback_window_s)
        if self.settings.rollback_window_s <= 0:
            await self._set_state("applied", bundle)
            return
        await self._set_state("watching", bundle)
        await self._watch_health(bundle, before, swaps)

    async def _restart_into(self, bundle: Bundle, before: HealthFacts,
                            old_state: dict[str, Any], swaps: list[_Swap]) -> None:
        """A site file is read only at start-up: keep what the watch needs, then restart.
        The watch resumes in the next process (``_resume``)."""
        self.state.update(version=bundle.version, digest=bundle.digest, previous=old_state,
                          pending={"version": bundle.version, "digest": bundle.digest,
                                   "pushed_by": bundle.pushed_by, "pushed_at": bundle.pushed_at,
                                   "before": asdict(before),
                                   "swaps": [{"kind": w.kind, "live": str(w.live),
                                              "previous": str(w.previous) if w.previous
                                              else None} for w in swaps]})
        if "rules" in bundle.files:
            self.state["rules_name"] = bundle.files["rules"].name
        self._audit("restarting", version=bundle.version, digest=bundle.digest,
                    pushed_by=bundle.pushed_by, files=sorted(bundle.files))
        await self._set_state("restarting", bundle)
        log.warning("fleet: bundle %s carries a site file: restarting to apply it",
                    bundle.version)
        self._request_restart()

    async def _health_during_window(self, before: HealthFacts,
                                    need_broker: bool = False) -> list[str]:
        """Why the site got worse than ``before`` within the rollback window (empty: it did
        not). ``need_broker``: the gateway must also reach the broker within the window (a
        pushed site file may carry broken MQTT settings)."""
        end = self.clock.monotonic() + self.settings.rollback_window_s
        connected = False
        while (left := end - self.clock.monotonic()) > 0:
            await self.clock.sleep(min(1.0, left))
            now = self.facts()
            connected = connected or now.mqtt_connected
            reasons = verdict(before, now, self.settings.health)
            if reasons:
                return reasons
        if need_broker and not connected:
            return ["the broker was not reached"]
        return []

    async def _watch_health(self, bundle: Bundle, before: HealthFacts,
                            swaps: list[_Swap]) -> None:
        """Compare the health with ``before`` every second of the rollback window (the
        caller holds the lock, so a newer bundle waits for this verdict)."""
        reasons = await self._health_during_window(before)
        if reasons:
            await self._rollback(bundle, swaps, reasons)
            return
        await self._set_state("applied", bundle)

    async def _rollback(self, bundle: Bundle, swaps: list[_Swap], reasons: list[str]) -> None:
        await asyncio.to_thread(_swap_back, swaps)
        problems = await self._reload()
        old = self.state.get("previous") or {}
        self.state.update(version=old.get("version"), digest=old.get("digest"),
                          rules_name=old.get("rules_name"))
        if problems:  # the files that ran before no longer load: say so, loudly
            reasons = [*reasons, *(f"rollback: {p}" for p in problems)]
        await self._refuse("rolled-back", bundle, [f"health check failed after apply: {r}"
                                                   for r in reasons])

    # -- health ---------------------------------------------------------------------

    async def publish_health(self) -> None:
        facts = self.facts()
        await self.publish(self.topics.fleet_health, facts.payload(self.site.id))

    async def run(self) -> None:
        """Publish the health summary every ``health_interval_s`` until cancelled."""
        await self.start()
        while True:
            try:
                await self.publish_health()
            except Exception:  # a summary that fails must not end the agent
                log.exception("fleet: health summary failed")
            await self.clock.sleep(self.settings.health_interval_s)


@dataclass
class _Swap:
    """One file of a bundle: staged beside its live place, swapped in, swapped back."""

    kind: str
    live: Path
    staged: Path
    #: the live file before the swap; None when there was none (swapping back removes it)
    previous: Path | None = None


def _swap_in(swaps: list[_Swap]) -> None:
    """Every staged file into its live place; on a failure the ones done are undone."""
    done: list[_Swap] = []
    try:
        for swap in swaps:
            if swap.live.exists():
                swap.previous = swap.live.with_name(f".{swap.live.name}.fleet-previous")
                replace_whole(swap.previous, swap.live.read_bytes())
            replace_with(swap.staged, swap.live)
            done.append(swap)
    except OSError:
        _swap_back(done)
        raise


def _swap_back(swaps: list[_Swap]) -> None:
    for swap in reversed(swaps):
        if swap.previous is not None:
            replace_with(swap.previous, swap.live)
        else:
            swap.live.unlink(missing_ok=True)


def _discard(swaps: list[_Swap]) -> None:
    for swap in swaps:
        swap.staged.unlink(missing_ok=True)


def _as_named(problem: Problem, named: dict[str, str]) -> Problem:
    """A problem of a staged file, named as the operator named the file."""
    if problem.file in named:
        return Problem(named[problem.file], problem.line, problem.field, problem.message)
    return problem
