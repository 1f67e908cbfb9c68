"""The control layers' reasons, point names and values in the user's language.

The engine writes its reasons in English once, as facts (they go to the audit file,
MQTT and JSON unchanged). For people they are read back here: each reason is split
into its clauses (``; ``), each clause matched against the templates the layers write
it with, and rewritten from the template's translation, with its fields (day types,
tariff periods, modes, nested reasons) translated too. A clause no template knows
stays as written — a rule file's own notes, names and numbers are the user's words.

The templates repeat the layers' wording: a layer that rewords a reason shows it in
English until its template here follows (tests/cli/test_lang.py catches that for
what ``rules plan`` prints on the demo site).
"""

from __future__ import annotations

import re
from functools import cache

from gateway.i18n import ENGLISH, N_, _, language

#: clauses as the layers write them, most specific first (same fields in every form)
TEMPLATES = (
    N_("{kind} '{name}': {day_type} step {hhmm} of {date} ({note})"),
    N_("{kind} '{name}': {day_type} step {hhmm} of {date}"),
    N_("{kind} '{name}': {day_type} step {hhmm} ({note})"),
    N_("{kind} '{name}': {day_type} step {hhmm}"),
    N_("agrees with {kind} '{name}'"),
    N_("over {others} ({why})"),
    N_("pre-cooling in the {period} period {start}-{end} to {setpoint} °C, outdoor "
       "{outdoor} °C"),
    N_("pre-cooling in the {period} period {start}-{end} to {setpoint} °C"),
    N_("{period} tariff period: float to {setpoint} °C after pre-cooling, outdoor "
       "{outdoor} °C"),
    N_("{period} tariff period: float to {setpoint} °C after pre-cooling"),
    N_("not in its months"),
    N_("not on a {day_type}"),
    N_("skipped: outdoor temperature unknown"),
    N_("skipped: mild day (outdoor {outdoor} < {minimum} °C)"),
    N_("outside its window {start}-{end} and not in a peak"),
    N_("optimal start: {what} done ({indoor}), holding {setpoint} °C until {hhmm}"),
    N_("optimal start: {what} to {reach} °C by {hhmm} ({indoor}, {rate} K/h)"),
    N_("late: {short} K short at {hhmm}"),
    N_("optimal start: ready for {hhmm}, nothing to do"),
    N_("optimal start: starts at {start} (needs {hours} h to reach {reach} °C)"),
    N_("optimal start: the unit runs in the other mode"),
    N_("optimal start: the unit was set to the other mode"),
    N_("left as it is"),
    N_("room {room} °C"),
    N_("comfort guard: room {room} °C, setpoint {offset} K"),
    N_("local change stands"),
    N_("demand limit {limit} kW: shed (level {level}, off)"),
    N_("demand limit {limit} kW: setpoint relief {offset} K (level {level}, off)"),
    N_("demand limit {limit} kW: setpoint relief {offset} K (level {level})"),
    N_("vacant since {hhmm}: standby off"),
    N_("vacant since {hhmm}: standby, setpoint relaxed {offset} K"),
    N_("vacant: standby off"),
    N_("vacant: standby, setpoint relaxed {offset} K"),
    N_("window open: unit off"),
    N_("window open: fan only"),
    N_("{setpoint} °C is outside the unit's range {low}-{high} °C: {bounded} °C"),
    N_("the unit cannot run {mode}"),
    N_("cooling setpoint {setpoint} °C (from {source}) raised to the {floor} °C floor"),
    N_("heating setpoint {setpoint} °C (from {source}) lowered to the {ceiling} °C ceiling"),
    N_("auto mode may cool below the floor or heat above the ceiling: set to {mode} for "
       "the season"),
    N_("minimum on time {seconds} s: on since {since}, may stop at {at}"),
    N_("minimum off time {seconds} s: off since {since}, may start at {at}"),
    N_("{starts} starts in the last hour (cap {cap})"),
    N_("may start at {at}"),
    N_("restart stagger after power or communications returned: may start at {at}"),
    N_("changeover delay {seconds} s after {what}: may change at {at}"),
    N_("off while the mode change waits: {why}"),
    N_("changeover delay over: back on in the new mode"),
    N_("not sent: the unit is (to be) off"),
    N_("override {id} ({source} by {who}): {values} until {until}"),
    N_("override {id} ({source}): {values} until {until}"),
    N_("kill switch on: {reason}"),
    N_("kill switch on ({reason}): nothing is written"),
    N_("already applied at its step"),
    N_("local changes stand until the next step"),
    N_("no rule speaks: left as it is"),
)

#: single words and phrases that fill the templates' fields, and the engine's statuses
VALUES = (
    N_("workday"), N_("makeup_workday"), N_("weekend"), N_("holiday"), N_("closure"),
    N_("schedule"), N_("sweep"),
    N_("sharp"), N_("peak"), N_("flat"), N_("valley"), N_("deep_valley"), N_("cheap"),
    N_("warm-up"), N_("cool-down"), N_("cooling"), N_("heating"),
    N_("room temperature unknown"), N_("the unit's own setting"),
    N_("narrower scope"), N_("higher priority"),
    N_("same scope and priority: the more energy-conservative value"),
    N_("deferred"), N_("suppressed"), N_("decides"),
)

#: how the four AC points and their values read (the standard names stay in JSON)
POINT_NAMES = {"power": N_("power"), "mode": N_("mode"), "setpoint_c": N_("setpoint"),
               "fan": N_("fan")}
POINT_VALUES = {"on": N_("on"), "off": N_("off"), "cool": N_("cool"), "heat": N_("heat"),
                "fan": N_("fan only"), "dry": N_("dry"), "auto": N_("auto"),
                "low": N_("low"), "medium": N_("medium"), "high": N_("high"),
                "top": N_("top"), "very_low": N_("very low")}
#: the control layers (ruleset.LAYER_NAMES), as ``explain`` lists their say
LAYER_NAMES = {"safety": N_("safety"), "protection": N_("protection"), "clamp": N_("clamp"),
               "window": N_("window"), "demand": N_("demand"), "override": N_("override"),
               "occupancy": N_("occupancy"), "comfort": N_("comfort"),
               "tariff": N_("tariff"), "start": N_("start"), "schedule": N_("schedule")}

_FIELD = re.compile(r"\{(\w+)\}")
_TIME = r"\d\d:\d\d"
_NUMBER = r"[-+]?\d+(?:\.\d+)?|\?"
_WORD = r"[a-z][a-z_-]*"
#: what each field can hold, so that a note with " of " or " (" in it is not taken
#: for the template's own words (any other field: any text)
_FIELD_PATTERNS = {
    "hhmm": _TIME, "start": _TIME, "end": _TIME, "date": r"\d{4}-\d\d-\d\d",
    "kind": _WORD, "day_type": _WORD, "period": _WORD, "what": _WORD, "mode": _WORD,
    **{n: _NUMBER for n in ("setpoint", "reach", "outdoor", "minimum", "limit", "level",
                            "offset", "seconds", "starts", "cap", "rate", "hours", "short",
                            "low", "high", "bounded", "floor", "ceiling", "room")},
}


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    out = []
    for template in TEMPLATES:
        parts = _FIELD.split(template)
        regex = "".join(re.escape(p) if n % 2 == 0
                        else f"(?P<{p}>{_FIELD_PATTERNS.get(p, '.+?')})"
                        for n, p in enumerate(parts))
        out.append((re.compile(regex), template))
    return tuple(out)


def _clause(text: str) -> str:
    if text in VALUES:
        return _(text)
    for pattern, template in _patterns():
        m = pattern.fullmatch(text)
        if m is not None:
            return _(template).format(**{k: _clause(v) for k, v in m.groupdict().items()})
    return text


def reason_text(reason: str) -> str:
    """A layer's reason in the current language (as it is, in English)."""
    if language() == ENGLISH or not reason:
        return reason
    return _("; ").join(_clause(part) for part in reason.split("; "))


def _named(table: dict[str, str], key: str) -> str:
    # English keeps the standard names people type (setpoint_c, fan), as before
    return key if language() == ENGLISH or key not in table else _(table[key])


def point_name(point: str) -> str:
    return _named(POINT_NAMES, point)


def point_value(text: str) -> str:
    """``on``, ``cool``, ``auto`` as people read them (``26 °C`` as it is)."""
    return _named(POINT_VALUES, text)


def layer_name(layer: str) -> str:
    return _named(LAYER_NAMES, layer)
