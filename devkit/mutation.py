"""The mutation score of the critical modules, from what ``mutmut run`` left in mutants/.

    python -m devkit.mutation        # after mutmut run (make mutation runs both)

Prints one ``name: value`` line per module and ``mutation_score_critical_pct`` for all of
them: killed mutants (a test failed, or the mutant hung past mutmut's timeout) plus those
justified as equivalent in devkit/mutation_equivalent.txt, over all mutants. Then every
surviving mutant that is not justified, by name, for ``mutmut show NAME``. Exit status 1
when a mutant was never checked (the run did not finish).
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = Path(__file__).with_name("mutation_equivalent.txt")

#: mutmut 3's exit codes (mutmut/stats.py) folded into what the score needs
KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failing test, or a timeout
SURVIVED = {0}
NO_TESTS = {5, 33}


def critical_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(config["tool"]["mutmut"]["only_mutate"])


def equivalent() -> dict[str, str]:
    """Mutant name → why it cannot change behaviour (``name  reason`` per line, # comments)."""
    out: dict[str, str] = {}
    for line in EQUIVALENT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            out[name] = reason.strip()
    return out


def outcome(code: int | None) -> str:
    if code is None:
        return "unchecked"
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "suspicious"


def main() -> int:
    justified = equivalent()
    total: Counter[str] = Counter()
    rows: list[tuple[str, float, Counter[str]]] = []
    open_survivors: list[str] = []
    for module in critical_modules():
        meta = ROOT / "mutants" / (module + ".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            result = outcome(code)
            if result != "killed" and name in justified:
                result = "equivalent"
            elif result != "killed":
                open_survivors.append(f"{name} ({result})")
            counts[result] += 1
        n = sum(counts.values())
        score = 100.0 * (counts["killed"] + counts["equivalent"]) / n if n else 0.0
        rows.append((module, score, counts))
        total += counts
    n = sum(total.values())
    critical = 100.0 * (total["killed"] + total["equivalent"]) / n if n else 0.0
    print(f"mutation_score_critical_pct: {critical:.1f}")
    for module, score, counts in rows:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"mutation_score_pct[{module}]: {score:.1f}  ({detail})")
    print(f"mutants: {n}; not killed and not justified: {len(open_survivors)}")
    for name in open_survivors:
        print(f"  {name}")
    return 1 if total["unchecked"] else 0


if __name__ == "__main__":
    sys.exit(main())
