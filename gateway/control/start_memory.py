"""Pure: what the optimal starts have learned about each unit (its warm-up and cool-down
models: steady rate and first-phase jump), as the plain data ``escogw run`` keeps in
``control-learned.json`` beside its outbox.

Without it a restart (an update, a power cut in the plant room) sends every unit back to
the rule file's first guess: one rate, no jump, and a cold Monday planned that way starts
hours late. The loop reads and writes the file; this module decides what goes into it
and what is taken from it: all of it, or nothing when any entry is unsound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gateway.control.start_plan import MAX_JUMP, MAX_RATE, MIN_RATE
from gateway.control.state import UnitState
from gateway.core.sourcefile import Problem

VERSION = 1
#: the file is a few hundred bytes a unit; anything larger is not ours
MAX_BYTES = 1 << 20
#: field → (lowest, highest): what a run can teach (gateway/control/start_plan.py)
BOUNDS = {"warm_rate": (MIN_RATE, MAX_RATE), "cool_rate": (MIN_RATE, MAX_RATE),
          "warm_jump": (0.0, MAX_JUMP), "cool_jump": (0.0, MAX_JUMP)}


def snapshot(states: Mapping[str, UnitState]) -> dict[str, Any]:
    """The learned models of every unit that has learned something, in file form."""
    units: dict[str, dict[str, float]] = {}
    for uid in sorted(states):
        st = states[uid]
        entry = {name: round(value, 4) for name, value in (
            ("warm_rate", st.warm_rate), ("warm_jump", st.warm_jump),
            ("cool_rate", st.cool_rate), ("cool_jump", st.cool_jump)) if value}
        if entry:
            units[uid] = entry
    return {"version": VERSION, "units": units}


def restore(data: Any, states: Mapping[str, UnitState], source: str) -> list[Problem]:
    """Put the file's models into ``states`` (units no longer on the site are forgotten).
    Every entry is checked first: with any problem nothing is taken, and the problems
    (``source``, field, message) say why."""
    problems: list[Problem] = []

    def bad(field: str, message: str) -> None:
        problems.append(Problem(source, None, field, message))

    if not isinstance(data, dict):
        bad("", "not a mapping")
        return problems
    version = data.get("version")
    if isinstance(version, bool) or version != VERSION:
        bad("version", f"expected {VERSION}, found {data.get('version')!r}")
    units = data.get("units")
    if not isinstance(units, dict):
        bad("units", "not a mapping")
        return problems
    taken: dict[str, dict[str, float]] = {}
    for uid, entry in units.items():
        if not isinstance(entry, dict):
            bad(f"units.{uid}", "not a mapping")
            continue
        for name, value in entry.items():
            where = f"units.{uid}.{name}"
            bounds = BOUNDS.get(name)
            if bounds is None:
                bad(where, f"unknown field (expected one of {', '.join(BOUNDS)})")
            elif isinstance(value, bool) or not isinstance(value, int | float) \
                    or not _finite(value):
                bad(where, f"not a number: {str(value)[:40]}")
            elif not bounds[0] <= value <= bounds[1]:
                bad(where, f"{value} is outside {bounds[0]:g}..{bounds[1]:g}")
            else:
                taken.setdefault(str(uid), {})[name] = float(value)
    if problems:
        return problems
    for uid, entry in taken.items():
        st = states.get(uid)
        if st is None:
            continue
        st.warm_rate = entry.get("warm_rate", st.warm_rate)
        st.cool_rate = entry.get("cool_rate", st.cool_rate)
        st.warm_jump = entry.get("warm_jump", st.warm_jump)
        st.cool_jump = entry.get("cool_jump", st.cool_jump)
    return []


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer of hundreds of digits
        return False
