"""What a Modbus wall box's reading says (gateway/ev/modbus_reading.py, pure): the IEC 61851
state as an OCPP connector status, sessions from plugging in to unplugging, the meter."""

from __future__ import annotations

import itertools

from gateway.core.chargers import ChargerConfig
from gateway.core.semantics import CHARGE_STATE_CODES
from gateway.ev.charger_state import ChargerState
from gateway.ev.modbus_reading import answered, apply_modbus_reading, counted_kw

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


def test_a_fault_in_the_middle_of_a_visit_is_the_same_session() -> None:
    st = ChargerState("WB01", CONFIG)
    conn = st.connectors[1]
    tx = itertools.count(1)
    apply_modbus_reading(st, reading("c2", 1.0, 7.0), 0.0, tx.__next__)
    session = conn.session
    assert session is not None
    for t, state in enumerate(("e", "f", "error"), start=1):
        assert apply_modbus_reading(st, reading(state, 1.5), float(t), tx.__next__) is None
        assert conn.session is session
    assert conn.status == "Faulted" and conn.error == "IEC61851-ERROR"
    apply_modbus_reading(st, reading("f", 1.5), 4.0, tx.__next__)
    assert conn.status == "Unavailable" and conn.error == "NoError"
    apply_modbus_reading(st, reading("c2", 2.0, 7.0), 5.0, tx.__next__)
    assert conn.session is session and conn.status == "Charging"
    done = apply_modbus_reading(st, reading("a1", 2.5), 6.0, tx.__next__)
    assert done is session and done.energy_kwh == 1.5 and st.finished == [session]
    # a box that faults with no car does not start one
    apply_modbus_reading(st, reading("e", 2.5), 7.0, tx.__next__)
    assert conn.session is None and conn.status == "Faulted"


def test_a_full_car_held_at_zero_stays_full_until_it_draws_again() -> None:
    """B2 after charging is full; the gateway then offers 0 and the box shows B1: still
    full (no share), not a car waiting for current, which would be offered its share and
    stop again (B2), every other cycle."""
    st = ChargerState("WB01", CONFIG)
    conn = st.connectors[1]
    tx = itertools.count(1)
    apply_modbus_reading(st, reading("c2", 1.0, 7.0), 0.0, tx.__next__)
    apply_modbus_reading(st, reading("c2", 3.0, 7.0), 1.0, tx.__next__)
    apply_modbus_reading(st, reading("b2", 3.0), 2.0, tx.__next__)
    assert conn.status == "SuspendedEV" and not conn.wants_power
    conn.limit_kw = 0.0  # what the allocator gives a full car
    apply_modbus_reading(st, reading("b1", 3.0), 3.0, tx.__next__)
    assert conn.status == "SuspendedEV" and not conn.wants_power
    apply_modbus_reading(st, reading("b1", 3.0), 4.0, tx.__next__)
    assert conn.status == "SuspendedEV"
    # B1 under a limit the gateway did not set to 0 (the box's own fail-safe 0, say) is
    # a car waiting for current
    conn.limit_kw = 5.0
    apply_modbus_reading(st, reading("b1", 3.0), 5.0, tx.__next__)
    assert conn.status == "SuspendedEVSE" and conn.wants_power
    conn.limit_kw = 0.0
    apply_modbus_reading(st, reading("b1", 3.0), 6.0, tx.__next__)
    assert conn.status == "SuspendedEV"
    # it draws again (C2): no longer full; once offered nothing it waits for current
    apply_modbus_reading(st, reading("c2", 3.5, 7.0), 7.0, tx.__next__)
    apply_modbus_reading(st, reading("b1", 3.5), 8.0, tx.__next__)
    assert conn.status == "SuspendedEVSE" and conn.wants_power
    # the next car's session starts not full
    apply_modbus_reading(st, reading("a2", 3.5), 9.0, tx.__next__)
    apply_modbus_reading(st, reading("b1", 3.5), 10.0, tx.__next__)
    assert conn.status == "SuspendedEVSE" and conn.wants_power


def test_a_reading_whose_state_is_unreadable_moves_the_meter_not_the_state() -> None:
    """A state code outside the profile's enum fails to decode (the point lands in
    ``failed``), the rest of the reading is there: the box answered."""
    st = ChargerState("WB01", CONFIG)
    conn = st.connectors[1]
    apply_modbus_reading(st, reading("c2", 1.0, 7.0), 0.0, lambda: 1)
    values = {"energy_import_kwh": 2.0, "active_power_kw": 9.5, "current_limit_a": 16.0}
    failed = {"charge_state": "decode: 12 is not in the enum"}
    assert answered(values, failed)
    apply_modbus_reading(st, values, 1.0, lambda: 2)
    assert conn.status == "Charging" and conn.session is not None
    assert conn.energy_wh == 2000.0 and st.power_kw == 9.5
    # what acquisition reports for a box that did not answer at all
    assert not answered({}, {"charge_state": "timeout", "current_limit_a": "not polled: "
                             "device not answering"})
    assert answered({}, {"charge_state": "exception 02"})


def test_what_a_charger_the_allocator_cannot_steer_is_counted_at() -> None:
    st = ChargerState("WB01", CONFIG)
    share, watchdog = 5.0, 20.0
    # never heard from: it may sit in its fail-safe
    assert counted_kw(st, share, None, None, watchdog, 100.0) == share
    # online, its state unreadable: what it draws or what it holds, the higher
    st.online = True
    st.connectors[1].power_kw = 4.0
    assert counted_kw(st, share, 10.56, 100.0, watchdog, 100.0) == 10.56
    st.connectors[1].power_kw = 11.0
    assert counted_kw(st, share, 10.56, 100.0, watchdog, 100.0) == 11.0
    # silent: its last limit or its share, the higher, until its watchdog has run out
    st.online = False
    assert counted_kw(st, share, 10.56, 100.0, watchdog, 119.0) == 10.56
    assert counted_kw(st, share, 3.0, 100.0, watchdog, 119.0) == share
    assert counted_kw(st, share, 10.56, 100.0, watchdog, 120.0) == share
