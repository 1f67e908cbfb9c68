"""The interval accountant inside ``escogw run``: readings from the stream, ``energy/interval``
messages into the outbox (then MQTT, then the historian, then InfluxDB).

It subscribes *lossy* to the reading stream: a slow or broken accountant must
never hold up polling, and a dropped reading loses no energy — the counter
carries it to the next reading, whose step is spread over the gap (the
intervals are then marked ``interpolated``).

State (per meter: the anchor value and time, the open intervals, the last
emitted interval, the month's peak) is written to ``energy-state.json`` beside
the outbox after every batch of closed intervals, atomically, and again on a
clean stop. After a restart the accountant resumes from it: the first reading
pairs with the saved anchor and the energy used while the gateway was down is
spread over the missing intervals — counted once, because the counter carried
it. Without a state file (first start, file lost) the first reading only
anchors; the interval it falls in is emitted as ``partial``.

Intervals are put into the outbox before the state is saved: a crash between
the two re-emits the same intervals after the restart, which InfluxDB
overwrites (same measurement, tags and time). A stop that interrupts the put
leaves the state unsaved for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any, Protocol

from gateway.acquisition.stream import ReadingStream, Subscription
from gateway.core.site import Site
from gateway.core.sourcefile import ConfigError
from gateway.core.statefile import replace_whole
from gateway.energy.accounting import Interval, IntervalAccountant, site_meters
from gateway.energy.tariff import Tariff, load_site_tariff
from gateway.uplink.messages import VERSION, Topics

log = logging.getLogger("escogw.energy")
_COMPACT = (",", ":")


class Sink(Protocol):
    async def put(self, messages: list[tuple[str, bytes]],
                  seqs: dict[str, int] | None = None) -> int: ...


def interval_message(topics: Topics, interval: Interval) -> tuple[str, bytes]:
    body = {"v": VERSION, **interval.payload()}
    return topics.energy_interval, json.dumps(body, separators=_COMPACT,
                                              ensure_ascii=False).encode()


class EnergyService:
    def __init__(self, site: Site, stream: ReadingStream, outbox: Sink, topics: Topics,
                 state_path: Path | None, tariff: Tariff | None = None,
                 queue_size: int = 10_000, linger_s: float = 0.1):
        self.site = site
        #: readings that arrive within this long of the first are accounted together: the
        #: polls of a site are spread over the second, and woken for each one the task cost
        #: a task switch per reading (docs/performance.md); a reading held here when the
        #: gateway stops loses no energy (the counter carries it to the next reading)
        self.linger_s = linger_s
        self.outbox = outbox
        self.topics = topics
        self.state_path = state_path
        self.accountant = IntervalAccountant(site_meters(site), site.tz, tariff)
        self.sub: Subscription = stream.subscribe(maxsize=queue_size, lossy=True)
        self.published = 0
        self.failures = 0
        #: intervals closed but not yet in the outbox (a put interrupted by the stop): while
        #: there are any the state is not saved, or the restart would take them as emitted
        self._unsent: list[Interval] = []
        if state_path is not None:
            restored = self._load(state_path)
            if restored:
                log.info("energy: resumed %d meters from %s", len(restored), state_path)

    @classmethod
    def for_site(cls, site: Site, stream: ReadingStream, outbox: Sink, topics: Topics,
                 state_dir: Path | None) -> EnergyService:
        """The accountant of ``escogw run``: the site's tariff, state beside the outbox.

        An invalid or missing tariff is logged and the energy is accounted without
        prices (kWh, demand and quality still flow), rather than stopping the gateway.
        """
        tariff: Tariff | None = None
        if site.spec.site.tariff is not None:
            try:
                tariff = load_site_tariff(site.spec.site.tariff, site_path=site.path)
            except ConfigError as exc:
                log.error("energy: tariff %s unusable, intervals carry no price: %s",
                          site.spec.site.tariff, exc)
        state = None if state_dir is None else state_dir / "energy-state.json"
        return cls(site, stream, outbox, topics, state, tariff)

    def reload_tariff(self) -> list[str]:
        """SIGHUP or a fleet bundle: the site's tariff read again. An invalid file leaves
        the tariff in force and is returned as problems. Intervals still open are priced
        at the new rates when they close."""
        if self.site.spec.site.tariff is None:
            return []
        try:
            tariff = load_site_tariff(self.site.spec.site.tariff, site_path=self.site.path)
        except ConfigError as exc:
            return [str(p) for p in exc.problems]
        self.accountant.tariff = tariff
        log.info("reload: tariff %s version %s in force", tariff.id, tariff.current.version)
        return []

    def _load(self, path: Path) -> list[str]:
        try:
            state: Any = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("energy: state %s unreadable (%s): meters re-anchor", path, exc)
            return []
        return self.accountant.restore(state) if isinstance(state, dict) else []

    def _save(self) -> None:
        if self.state_path is None:
            return
        replace_whole(self.state_path, json.dumps(self.accountant.snapshot(),
                                                  separators=_COMPACT))

    async def run(self) -> None:
        try:
            while True:
                batch = [await self.sub.get()]
                # physical batching, like the outbox writer's: real time, not the site clock
                await asyncio.sleep(self.linger_s)
                while not self.sub.queue.empty():
                    batch.append(self.sub.queue.get_nowait())
                await self.account(batch)
        finally:
            if self._unsent:
                log.warning("energy: stopped before %d closed intervals reached the outbox: "
                            "state not saved, the restart emits them again", len(self._unsent))
            else:
                with contextlib.suppress(OSError):
                    self._save()

    async def account(self, readings: list[Any]) -> list[Interval]:
        closed: list[Interval] = []
        for reading in readings:
            try:
                closed += self.accountant.add(reading)
            except Exception:  # one bad reading must not end accounting
                self.failures += 1
                log.exception("energy: reading of %s not accounted", reading.device)
        self._unsent += closed
        if self._unsent:
            await self.outbox.put([interval_message(self.topics, i) for i in self._unsent])
            self.published += len(self._unsent)
            self._unsent = []
            try:
                await asyncio.to_thread(self._save)
            except OSError as exc:
                log.warning("energy: state not saved (%s)", exc)
        return closed
