"""What a Modbus wall box's reading says (gateway/ev/modbus_reading.py, pure): the IEC 61851
state as an OCPP connector status, sessions from plugging in to unplugging, the meter."""

from __future__ import annotations

import itertools

from gateway.core.chargers import ChargerConfig
from gateway.core.semantics import CHARGE_STATE_CODES
from gateway.ev.charger_state import ChargerState
from gateway.ev.modbus_reading import apply_modbus_reading

CONFIG = ChargerConfig.model_validate({"ac": {"phases": 3, "max_current_a": 16},
                                       "circuit": "carpark", "modbus": {"device": "wb"}})


def reading(state: str, kwh: float, kw: float = 0.0) -> dict[str, float | int]:
    return {"charge_state": CHARGE_STATE_CODES[state], "energy_import_kwh": kwh,
            "active_power_kw": kw}


def test_a_visit_is_a_session_from_plugging_in_to_unplugging() -> None:
    st = ChargerState("WB01", CONFIG)
    tx = itertools.count(500)
    conn = st.connectors[1]
    assert apply_modbus_reading(st, reading("a2", 100.0), 0.0, tx.__next__) is None
    assert conn.status == "Available" and conn.session is None and not conn.wants_power
    apply_modbus_reading(st, reading("b1", 100.0), 10.0, tx.__next__)
    assert conn.status == "SuspendedEVSE" and conn.wants_power  # plugged, nothing offered
    session = conn.session
    assert session is not None and session.transaction_id == 500
    assert session.id_tag == "" and session.meter_start_wh == 100_000.0
    # offered current, the car not yet drawing: starting, it keeps its share
    apply_modbus_reading(st, reading("b2", 100.0), 20.0, tx.__next__)
    assert conn.status == "Preparing" and conn.wants_power
    apply_modbus_reading(st, reading("c2", 100.5, 7.3), 30.0, tx.__next__)
    assert conn.status == "Charging" and st.power_kw == 7.3
    assert session.energy_kwh == 0.5
    # it charged and stopped by itself: full, it holds no share
    apply_modbus_reading(st, reading("b2", 104.0), 40.0, tx.__next__)
    assert conn.status == "SuspendedEV" and not conn.wants_power
    done = apply_modbus_reading(st, reading("a2", 104.0), 50.0, tx.__next__)
    assert done is session and conn.session is None
    assert done.energy_kwh == 4.0 and done.stopped == 50.0 and done.reason == "EVDisconnected"
    assert done.samples == [(10.0, 100_000.0), (20.0, 100_000.0), (30.0, 100_500.0),
                            (40.0, 104_000.0), (50.0, 104_000.0)]
    assert st.finished == [done]


def test_faults_and_a_reading_without_a_state() -> None:
    st = ChargerState("WB01", CONFIG)
    conn = st.connectors[1]
    apply_modbus_reading(st, reading("e", 1.0), 0.0, lambda: 1)
    assert conn.status == "Faulted" and conn.error == "IEC61851-E"
    apply_modbus_reading(st, reading("f", 1.0), 1.0, lambda: 1)
    assert conn.status == "Unavailable" and conn.error == "NoError"
    # the energy block answered, the state did not: the status stays, the meter moves
    apply_modbus_reading(st, {"energy_import_kwh": 2.0}, 2.0, lambda: 1)
    assert conn.status == "Unavailable" and conn.energy_wh == 2000.0
