"""Running a season what-if: each rule set over the days in one continuous simulation
(``whatif.run_days``: no warm-up per day), the comparison set beside in a forked process
that sends its per-day KPIs back through a pipe (gateway/energy/season.py sums them up).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from datetime import date
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

from gateway.control.rules import load_rules
from gateway.control.ruleset import RuleSet
from gateway.core.calendar import SiteCalendar
from gateway.core.site import Site
from gateway.energy.kpis import DemandThreshold
from gateway.energy.season import Season, SeasonComparison
from gateway.energy.whatif import Limits, Progress, national_limits, run_days
from simulators.physics import WeatherDay
from simulators.physics.weather_series import DailyWeather, weather_day


def run_season(site: Site, rules_path: str | Path, vs_path: str | Path | None,
               days: list[DailyWeather], *, step_s: float = 60.0, warmup_days: int = 1,
               limits: Limits = "national", sim_seed: int | None = None,
               write_failure: float = 0.0, jobs: int = 2,
               progress: Progress | None = None, cars: bool = False,
               occupancy: SiteCalendar | None = None) -> SeasonComparison:
    """A (and B) over ``days`` — consecutive dates — in continuous runs; with ``jobs`` 2, B
    runs in a forked process beside A. Rule files are loaded (and refused) before.
    ``cars``: simulate the site file's car park (gateway/energy/whatif_ev.py).
    ``occupancy``: the calendar that brings the occupants in, in both runs (default: A's)."""
    wall0 = time.perf_counter()
    shapes = {d.day: weather_day(days, i) for i, d in enumerate(days)}
    first, last = days[0].day, days[-1].day

    def weather_for(d: date) -> WeatherDay:
        return shapes.get(d) or shapes[first]  # the warm-up days repeat the first day

    rules_a = load_rules(rules_path, site)
    rules_b = load_rules(vs_path, site) if vs_path is not None else None
    threshold = DemandThreshold.of(national_limits(rules_a) if limits == "national"
                                   else rules_a)

    def one(path: str | Path, rules: RuleSet, report: Progress | None) -> Season:
        cpu0 = time.process_time()
        kpis, _ = run_days(site, path, first, last, weather_for=weather_for,
                           step_s=step_s, warmup_days=warmup_days, limits=limits,
                           sim_seed=sim_seed, write_failure=write_failure,
                           rules=rules, progress=report, demand_limit=threshold,
                           cars=cars, occupancy=occupancy or rules_a.calendar)
        return Season(Path(path).stem, kpis, time.process_time() - cpu0)

    if rules_b is None or vs_path is None:
        a = one(rules_path, rules_a, progress)
        return SeasonComparison(a, None, days, threshold.threshold_kw if threshold else None,
                                time.perf_counter() - wall0)
    if jobs < 2:
        a = one(rules_path, rules_a, (lambda f: progress(f / 2)) if progress else None)
        b = one(vs_path, rules_b, (lambda f: progress(0.5 + f / 2)) if progress else None)
    else:
        a, b = _side_by_side(lambda report: one(rules_path, rules_a, report),
                             lambda report: one(vs_path, rules_b, report), progress)
    return SeasonComparison(a, b, days, threshold.threshold_kw if threshold else None,
                            time.perf_counter() - wall0)


def _side_by_side(run_a: Callable[[Progress | None], Season],
                  run_b: Callable[[Progress | None], Season],
                  progress: Progress | None) -> tuple[Season, Season]:
    """``run_b`` in a forked child (sending its ``Season`` back), ``run_a`` here; progress
    is the mean of both."""
    ctx = multiprocessing.get_context("fork")
    done_b: Synchronized[float] = ctx.Value("d", 0.0)
    receive, send = ctx.Pipe(duplex=False)

    def child(conn: Connection) -> None:
        try:
            conn.send(("ok", run_b(lambda f: setattr(done_b, "value", f))))
        except BaseException as exc:  # the parent raises it with its text
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        finally:
            conn.close()

    proc = ctx.Process(target=child, args=(send,), daemon=True)
    proc.start()
    send.close()
    try:
        a = run_a((lambda f: progress((f + done_b.value) / 2)) if progress else None)
        while not receive.poll(0.2):
            if progress is not None:
                progress((1.0 + done_b.value) / 2)
            if not proc.is_alive() and not receive.poll(0):
                raise RuntimeError(f"the comparison run died (exit code {proc.exitcode})")
        status, payload = receive.recv()
    except BaseException:  # an error or ^C here: the child's work is of no use
        proc.kill()
        raise
    finally:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    if status != "ok":
        raise RuntimeError(f"the comparison run failed: {payload}")
    if progress is not None:  # B's last report may not have been polled before its result
        progress(1.0)
    return a, payload
