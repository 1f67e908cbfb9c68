"""Pure: layer 1, safety — the kill switch (the rule file's or the operator's) writes
nothing, and a unit without a fresh reading (``safety.stale_after_s``) is left alone
(docs/rules.md "Safety and the engine"). The engine asks it before any other layer."""

from __future__ import annotations

from gateway.control.ruleset import POWER, SAFETY
from gateway.control.state import Ctx, Decision, Opinion, UnitState

KILL_SWITCH = "safety:kill-switch"


def stale(state: UnitState, ctx: Ctx) -> bool:
    """No fresh reading of the unit: it is left alone."""
    return ctx.now - state.ts > ctx.rules.safety.stale_after_s


def kill_switch(reason: str) -> Decision:
    """What decides every point while the kill switch is on."""
    return Decision(None, SAFETY, KILL_SWITCH, f"kill switch on: {reason}")


def kill_switch_opinion(reason: str) -> Opinion:
    """The kill switch's say, for an explanation."""
    return Opinion(SAFETY, KILL_SWITCH, POWER, None,
                   f"kill switch on ({reason}): nothing is written", "decides")
