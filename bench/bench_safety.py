"""The control-safety invariants over generated days (tests/control/safety_cases.py): the
real engine and actuator, seasons, day types, units found in any state, occupants at the
remote, overrides, missing readings and four rule sets.

`safety_violations_generated_cases` counts broken invariants (target 0) over
`safety_generated_cases` cases of an hour each (`safety_generated_writes` writes made);
the cases are other seeds than the test suite's. Run: `python -m bench.bench_safety`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.control.safety_cases import Outcome, run_case

FIRST_SEED = 100_000  # not the seeds the tests run
CASES = 3000


def run() -> dict[str, float]:
    total = Outcome()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(FIRST_SEED, FIRST_SEED + CASES):
            total.add(run_case(seed, Path(tmp)))
    for line in total.violations[:10]:
        print(f"# {line}")
    return {"safety_violations_generated_cases": len(total.violations),
            "safety_generated_cases": total.cases,
            "safety_generated_writes": total.writes}


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
