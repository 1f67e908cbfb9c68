"""What every check of a rule file shares: the file, the site's AC units and groups, the problems.

``Context`` is built once per load. It knows which units a scope names and what
each unit can do (its profile's modes, fans, writable points, setpoint range,
policy exemption), and collects every problem as ``file:line: field: message``
so that all of them are reported at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gateway.control.rules.schema import RuleFile
from gateway.control.ruleset import POINTS, PolicyConfig, UnitInfo
from gateway.core.policy import COOLING_MODES, HEATING_MODES
from gateway.core.semantics import FAN_CODES, MODE_CODES, suggest
from gateway.core.site import Site
from gateway.core.sourcefile import Loc, Problem, SourceDoc

MODE_NAMES = {code: name for name, code in MODE_CODES.items()}
FAN_NAMES = {code: name for name, code in FAN_CODES.items()}
ALL_GROUP = "all"


def digest(data: Any) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


def unit_list(units: Iterable[str], limit: int = 3) -> str:
    items = sorted(units)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


class Context:
    """One load's shared state; ``bad`` records a problem at a path of the file."""

    def __init__(self, doc: SourceDoc, spec: RuleFile, site: Site, tariffs_dir: Path | None):
        self.doc = doc
        self.spec = spec
        self.site = site
        self.tariffs_dir = tariffs_dir
        self.problems: list[Problem] = []
        self.units: dict[str, UnitInfo] = {}
        self.groups: dict[str, frozenset[str]] = {}
        self.files: list[str] = [doc.path]

    def bad(self, loc: Loc, message: str) -> None:
        self.problems.append(self.doc.problem(loc, message))

    # units and groups ------------------------------------------------------

    def build_units(self, exempt: Mapping[str, str]) -> None:
        for dev_id, dev in self.site.devices.items():
            if dev.profile.kind != "hvac":
                continue
            pts = dev.profile.points

            def codes(name: str, table: dict[str, int], points: Any = pts) -> frozenset[int]:
                p = points.get(name)
                if p is None or not p.writable or p.names is None:
                    return frozenset()
                return frozenset(table[n] for n in p.names if n in table)

            sp = pts.get("setpoint_c")
            zone = dev.config.tags.get("zone")
            self.units[dev_id] = UnitInfo(
                id=dev_id, zone=zone, tags=dict(dev.config.tags), groups=frozenset(),
                exempt=exempt.get(zone) if zone is not None else None,
                modes=codes("mode", MODE_CODES), fans=codes("fan", FAN_CODES),
                writable=frozenset(n for n, p in pts.items() if p.writable and n in POINTS),
                sp_min=sp.min if sp is not None and sp.min is not None else 16.0,
                sp_max=sp.max if sp is not None and sp.max is not None else 32.0,
                area_m2=dev.config.area_m2, cal_groups=frozenset(),
                has_occupancy="occupied" in pts, has_window="window_open" in pts)

    def build_groups(self) -> None:
        self.groups[ALL_GROUP] = frozenset(self.units)
        tag_names = sorted({t for u in self.units.values() for t in u.tags})
        for name, g in self.spec.groups.items():
            at: Loc = ("groups", name)
            if name == ALL_GROUP:
                self.bad(at, "'all' is built in (every AC unit); name the group differently")
                continue
            members: set[str] = set()
            if g.match is not None:
                for tag in g.match:
                    if tag not in tag_names:
                        self.bad((*at, "match", tag), f"no AC unit has a tag '{tag}'"
                                 f"{suggest(tag, tag_names)}")
                for uid, u in self.units.items():
                    if all(u.tags.get(k) in (v if isinstance(v, list) else [v])
                           for k, v in g.match.items()):
                        members.add(uid)
            for i, dev in enumerate(g.devices or []):
                if self._check_device(dev, (*at, "devices", i)):
                    members.add(dev)
            for i, dev in enumerate(g.exclude):
                if self._check_device(dev, (*at, "exclude", i)):
                    members.discard(dev)
            if not members and g.match is not None:
                self.bad(at, "matches no AC unit of the site")
            self.groups[name] = frozenset(members)
        for uid, u in list(self.units.items()):
            mine = frozenset(n for n, m in self.groups.items() if uid in m)
            self.units[uid] = dataclasses.replace(u, groups=mine)

    def _check_device(self, dev: str, loc: Loc) -> bool:
        if dev in self.units:
            return True
        if dev in self.site.devices:
            self.bad(loc, f"'{dev}' is a {self.site.devices[dev].profile.kind} device, not an "
                          "AC unit")
        else:
            self.bad(loc, f"no device '{dev}' in the site{suggest(dev, list(self.units))}")
        return False

    def scope(self, group: list[str], excepts: list[str], at: Loc) -> frozenset[str]:
        units: set[str] = set()
        for i, name in enumerate(group):
            loc = (*at, "group") if len(group) == 1 else (*at, "group", i)
            if name in self.groups:
                units |= self.groups[name]
            elif name in self.units:
                units.add(name)
            else:
                self.bad(loc, f"no group or AC unit '{name}'"
                         f"{suggest(name, [*self.groups, *self.units])}")
        for i, name in enumerate(excepts):
            if name in self.groups:
                units -= self.groups[name]
            elif name in self.units:
                units.discard(name)
            else:
                self.bad((*at, "except", i), f"no group or AC unit '{name}'"
                         f"{suggest(name, [*self.groups, *self.units])}")
        return frozenset(units)

    def group_names(self, names: list[str] | None, at: Loc) -> frozenset[str] | None:
        if names is None:
            return None
        for i, name in enumerate(names):
            if name not in self.groups:
                self.bad((*at, i) if len(names) > 1 else at,
                         f"no group '{name}'{suggest(name, list(self.groups))}")
        return frozenset(names)

    # capabilities and limits -------------------------------------------------

    def check_values(self, units: frozenset[str], loc: Loc, mode: int | None,
                     modes_in_force: Iterable[int], setpoint: float | None,
                     fan: int | None, policy: PolicyConfig, power: int | None = None,
                     sp_key: str = "setpoint_c") -> None:
        """What each unit of a scope must be able to do for one step."""
        if mode is not None:
            lacking = [u for u in units if mode not in self.units[u].modes]
            if lacking:
                self.bad((*loc, "mode"), f"{unit_list(lacking)} cannot be set to mode "
                         f"'{MODE_NAMES[mode]}' (not in its profile)")
            if mode == MODE_CODES["auto"]:
                strict = [u for u in units if self.units[u].exempt is None]
                if strict:
                    self.bad((*loc, "mode"), f"auto may cool below {policy.cooling_min_c:g} °C "
                             f"or heat above {policy.heating_max_c:g} °C; {unit_list(strict)} "
                             "are not exempt: use cool or heat")
        if fan is not None:
            lacking = [u for u in units if fan not in self.units[u].fans]
            if lacking:
                self.bad((*loc, "fan"), f"{unit_list(lacking)} cannot be set to fan "
                         f"'{FAN_NAMES[fan]}' (not in its profile)")
        for name, value in (("setpoint_c", setpoint), ("mode", mode), ("fan", fan),
                            ("power", power)):
            if value is None:
                continue
            lacking = [u for u in units if name not in self.units[u].writable]
            if lacking:
                self.bad((*loc, name), f"{unit_list(lacking)} has no writable '{name}'")
        if setpoint is None:
            return
        out = [u for u in units if not self.units[u].sp_min <= setpoint <= self.units[u].sp_max]
        if out:
            u = self.units[out[0]]
            self.bad((*loc, sp_key), f"{setpoint:g} °C is outside what {unit_list(out)} "
                     f"accept ({u.sp_min:g}-{u.sp_max:g} °C)")
        strict = [u for u in units if self.units[u].exempt is None]
        if not strict:
            return
        modes = set(modes_in_force)
        if modes & COOLING_MODES and setpoint < policy.cooling_min_c:
            self.bad((*loc, sp_key), f"{setpoint:g} °C is below the cooling floor "
                     f"{policy.cooling_min_c:g} °C for {unit_list(strict)}; raise it, or exempt "
                     "the zone in policy.exemptions with a reason")
        if modes & HEATING_MODES and setpoint > policy.heating_max_c:
            self.bad((*loc, sp_key), f"{setpoint:g} °C is above the heating ceiling "
                     f"{policy.heating_max_c:g} °C for {unit_list(strict)}; lower it, or exempt "
                     "the zone in policy.exemptions with a reason")
