"""Loading a rule file, shipped or hostile: the worst time and memory it can cost.

`rules_load_worst_ms` is the slowest median (5 runs) of `load_rules` — the path
`escogw rules check` and a SIGHUP reload take — over the hostile corpus in
tests/cases/hostile/ (alias bomb, self-referencing alias, deep nesting, NUL
bytes, huge integers, garbage), an oversized file and the demo's own rules;
`rules_load_peak_mb` is the largest Python heap peak (tracemalloc) of any of
them; `rules_load_demo_ms` is the shipped file alone, for scale.
Run: `python -m bench.bench_loading`.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from gateway.control.rules import load_rules
from gateway.core.site import Site, load_site
from gateway.core.sourcefile import MAX_BYTES, ConfigError

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "cases" / "hostile"


def _once(path: Path, site: Site) -> float:
    start = time.perf_counter()
    with contextlib.suppress(ConfigError):
        load_rules(path, site)
    return time.perf_counter() - start


def _peak(path: Path, site: Site) -> float:
    tracemalloc.start()
    try:
        _once(path, site)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run() -> dict[str, float]:
    site = load_site(ROOT / "config" / "demo-site.yaml")
    demo = ROOT / "rules" / "demo-office.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "oversized.yaml"
        big.write_bytes(b"# padding\n" * (MAX_BYTES // 10 + 1))
        files = [*sorted(HOSTILE.glob("*/file.yaml")), big, demo]
        medians = {f: statistics.median(_once(f, site) for _ in range(5)) for f in files}
        peak = max(_peak(f, site) for f in files)
    return {
        "rules_load_worst_ms": max(medians.values()) * 1000,
        "rules_load_peak_mb": peak,
        "rules_load_demo_ms": medians[demo] * 1000,
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value:.3f}")
