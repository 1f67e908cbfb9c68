"""Pure: what a Modbus charger's reading says about its ``ChargerState``.

A Modbus wall box (drivers/heidelberg-energy-control.yaml) has one connector and reports
its IEC 61851 state (``charge_state``), power, energy register and the current limit it
holds. The state becomes the OCPP connector status the allocator and MQTT already speak;
a car plugging in starts a session (no idTag: the box identifies no one), unplugging ends
it. Times are epoch seconds on the injected clock, passed in.
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
#: IEC 61851 state → OCPP 1.6 connector status. B2 (the box offers current, the car takes
#: none) is decided by ``connector_status``.
STATUS = {"a1": "Available", "a2": "Available", "b1": "SuspendedEVSE", "c1": "SuspendedEVSE",
          "c2": "Charging", "derating": "Charging", "e": "Faulted", "f": "Unavailable",
          "error": "Faulted"}
PLUGGED_STATES = frozenset({"b1", "b2", "c1", "c2", "derating"})
#: the charger answered: its state was read
ANSWER_POINT = "charge_state"


def connector_status(state: str, session: Session | None) -> str:
    """B2 is a car that takes nothing although current is offered: one that charged this
    session and stopped is full (``SuspendedEV``: it holds no share); one that has not
    drawn yet is starting (``Preparing``: it keeps the share it was just given, or a car
    slow to start would lose it every cycle)."""
    if state == "b2":
        return "SuspendedEV" if session is not None and session.energy_kwh > 0 \
            else "Preparing"
    return STATUS[state]


def apply_modbus_reading(st: ChargerState, values: Mapping[str, Value], now: float,
                         next_transaction: Callable[[], int]) -> Session | None:
    """Update the charger's only connector; returns the session that ended, if any.

    A state code outside the standard's (the profile's enum already refuses unknown raw
    values) or a reading without one leaves the connector as it was."""
    conn = st.connectors[1]
    code = values.get(ANSWER_POINT)
    state = STATE_NAMES.get(int(code)) if isinstance(code, int | float) else None
    kwh = values.get("energy_import_kwh")
    wh = float(kwh) * 1000.0 if isinstance(kwh, int | float) else None
    power = values.get("active_power_kw")
    done: Session | None = None
    if state is not None:
        plugged = state in PLUGGED_STATES
        if plugged and conn.session is None:
            start_session(st, 1, next_transaction(), "", _meter_wh(conn, wh), now)
        elif not plugged and conn.session is not None:
            done = stop_session(st, conn.session.transaction_id, _meter_wh(conn, wh), now,
                                "EVDisconnected")
    if wh is not None:
        record_energy(conn, wh, now)
        conn.meter_at = now
    if isinstance(power, int | float):
        conn.power_kw = max(0.0, float(power))
    if state is not None:
        conn.status = connector_status(state, conn.session)
        conn.error = "NoError" if state not in ("e", "error") else f"IEC61851-{state.upper()}"
    return done


def _meter_wh(conn: ConnectorState, wh: float | None) -> float:
    if wh is not None:
        return wh
    return conn.energy_wh if conn.energy_wh is not None else 0.0
