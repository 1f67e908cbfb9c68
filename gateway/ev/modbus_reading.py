"""Pure: what a Modbus charger's reading says about its ``ChargerState``, and what a
charger the allocator cannot steer is counted at.

A Modbus wall box (drivers/heidelberg-energy-control.yaml) has one connector and reports
its IEC 61851 state (``charge_state``), power, energy register and the current limit it
holds. The state becomes the OCPP connector status the allocator and MQTT already speak;
a car plugging in starts a session (no idTag: the box identifies no one), unplugging (A1,
A2) ends it: a fault (E, F, error) in between is the same visit. Times are epoch seconds
on the injected clock, passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.core.profile import Value
from gateway.core.semantics import CHARGE_STATE_CODES
from gateway.ev.charger_state import (
    ChargerState,
    ConnectorState,
    Session,
    record_energy,
    start_session,
    stop_session,
)

STATE_NAMES = {code: name for name, code in CHARGE_STATE_CODES.items()}
#: IEC 61851 state → OCPP 1.6 connector status. B1 and B2 are decided by
#: ``connector_status``.
STATUS = {"a1": "Available", "a2": "Available", "b1": "SuspendedEVSE", "c1": "SuspendedEVSE",
          "c2": "Charging", "derating": "Charging", "e": "Faulted", "f": "Unavailable",
          "error": "Faulted"}
PLUGGED_STATES = frozenset({"b1", "b2", "c1", "c2", "derating"})
#: no car: the only states that end a session
UNPLUGGED_STATES = frozenset({"a1", "a2"})
#: the charger's state: without it the gateway cannot tell what the car does
ANSWER_POINT = "charge_state"
#: a failed point's reason that still came back from the box (acquisition/scheduler.py:
#: a value it could not decode, a Modbus exception reply); timeouts, garbled frames and a
#: link down are silence
_REPLIED = ("decode:", "exception")


def answered(values: Mapping[str, Value], failed: Mapping[str, str]) -> bool:
    """The box sent back a frame in this poll (some point read, or a reply refused)."""
    return bool(values) or any(r.startswith(_REPLIED) for r in failed.values())


def connector_status(state: str, conn: ConnectorState) -> str:
    """B2 is a car that takes nothing although current is offered: one that charged this
    session and stopped is full (``SuspendedEV``: it holds no share); one that has not
    drawn yet is starting (``Preparing``: it keeps the share it was just given, or a car
    slow to start would lose it every cycle). A full car the gateway holds at 0 shows B1
    (nothing offered): still full, or it would ask for its share again and stop at once,
    every other cycle. Only drawing (C2) clears it (``_note_full``)."""
    session = conn.session
    if state == "b2":
        return "SuspendedEV" if session is not None and session.full else "Preparing"
    if state == "b1" and session is not None and session.full and conn.limit_kw == 0:
        return "SuspendedEV"
    return STATUS[state]


def apply_modbus_reading(st: ChargerState, values: Mapping[str, Value], now: float,
                         next_transaction: Callable[[], int]) -> Session | None:
    """Update the charger's only connector; returns the session that ended, if any.

    A reading without a state (unreadable: a code outside the profile's enum) leaves the
    connector's status and session as they were; its meter still counts."""
    conn = st.connectors[1]
    code = values.get(ANSWER_POINT)
    state = STATE_NAMES.get(int(code)) if isinstance(code, int | float) else None
    kwh = values.get("energy_import_kwh")
    wh = float(kwh) * 1000.0 if isinstance(kwh, int | float) else None
    power = values.get("active_power_kw")
    done: Session | None = None
    if state in PLUGGED_STATES and conn.session is None:
        start_session(st, 1, next_transaction(), "", _meter_wh(conn, wh), now)
    elif state in UNPLUGGED_STATES and conn.session is not None:
        done = stop_session(st, conn.session.transaction_id, _meter_wh(conn, wh), now,
                            "EVDisconnected")
    if wh is not None:
        record_energy(conn, wh, now)
        conn.meter_at = now
    if isinstance(power, int | float):
        conn.power_kw = max(0.0, float(power))
    if state is not None:
        if conn.session is not None:
            _note_full(conn.session, state)
        conn.status = connector_status(state, conn)
        conn.error = "NoError" if state not in ("e", "error") else f"IEC61851-{state.upper()}"
    return done


def counted_kw(st: ChargerState, share_kw: float, held_kw: float | None,
               heard: float | None, watchdog_s: float, now: float) -> float:
    """What a Modbus charger the allocator does not steer is counted at (kW, metered load).

    - online (it answers, its state unreadable or a write refused): what it draws, or
      the limit it holds (``held_kw``, read back), whichever is higher: it may take that
      at any moment;
    - silent, its watchdog not yet run out since the last frame it answered (``heard``):
      its last limit or its fail-safe share, the higher, as it may hold either;
    - silent longer, or never heard from: its fail-safe share (``share_kw``), what its
      watchdog leaves it.
    """
    held = held_kw or 0.0
    if st.online:
        return max(st.power_kw, held)
    if heard is not None and now - heard < watchdog_s:
        return max(held, share_kw)
    return share_kw


def _note_full(session: Session, state: str) -> None:
    """A car that charged this session and now takes nothing offered (B2) is full; one
    that draws again (C2) is not."""
    if state == "c2":
        session.full = False
    elif state == "b2" and session.energy_kwh > 0:
        session.full = True


def _meter_wh(conn: ConnectorState, wh: float | None) -> float:
    if wh is not None:
        return wh
    return conn.energy_wh if conn.energy_wh is not None else 0.0
