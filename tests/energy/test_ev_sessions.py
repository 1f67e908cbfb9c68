"""A charging session's energy and cost by time-of-use period (gateway/energy/ev_sessions.py)
and the ev/session message that carries them."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from gateway.energy.ev_sessions import session_costs, split_by_period
from gateway.energy.tariff import load_tariff
from gateway.ev.charger_state import Session
from gateway.ev.payloads import session_payload
from tests.sitefiles import ROOT

TZ = ZoneInfo("Asia/Shanghai")
HUBEI = load_tariff(ROOT / "tariffs" / "hubei-general-ic.yaml")
# July: flat 0.65, valley 0.45 × 0.65 = 0.2925, peak 1.49 × 0.65 = 0.9685 CNY/kWh


def t(hhmm: str) -> float:
    return datetime.fromisoformat(f"2026-07-15T{hhmm}").replace(tzinfo=TZ).timestamp()


def test_energy_between_readings_is_split_at_the_period_boundary() -> None:
    # 7 kW from 11:30 to 12:30, one reading at each end: half flat, half valley
    split = split_by_period([(t("11:30"), 0.0), (t("12:30"), 7000.0)], HUBEI, TZ)
    assert split.kwh == pytest.approx({"flat": 3.5, "valley": 3.5})
    assert split.cost["flat"] == Decimal("3.5") * Decimal("0.65")
    assert split.cost["valley"] == Decimal("3.5") * Decimal("0.2925")


def test_a_register_that_stands_still_or_falls_adds_nothing() -> None:
    split = split_by_period([(t("09:00"), 1000.0), (t("10:00"), 1000.0), (t("10:30"), 900.0),
                             (t("11:00"), 1900.0)], HUBEI, TZ)
    assert split.kwh == pytest.approx({"flat": 1.0})


def test_a_session_over_valley_and_peak_is_priced_per_period() -> None:
    s = Session(7, "tag", t("12:00"), 0.0, 0.0)
    s.sample(t("12:00"), 0.0)
    s.sample(t("14:00"), 14_000.0)  # 7 kW through the valley
    s.sample(t("16:00"), 14_000.0)  # full, waiting
    s.sample(t("17:00"), 21_000.0)  # topped up in the peak
    s.sample(t("16:59"), 30_000.0)  # out of order: ignored
    costs = session_costs(s, HUBEI, TZ)
    assert costs["by_period"] == {"valley": {"kwh": 14.0, "cost": 4.10},
                                  "peak": {"kwh": 7.0, "cost": 6.78}}
    assert costs["cost"] == pytest.approx(4.095 + 6.7795, abs=0.011)
    assert costs["currency"] == "CNY" and costs["tariff_version"] == HUBEI.current.version
    s.meter_wh, s.stopped, s.reason = 21_000.0, t("17:00"), "EVDisconnected"
    doc = json.loads(session_payload("CP01", s, costs))
    assert doc["energy_kwh"] == 21.0 and doc["by_period"]["peak"]["kwh"] == 7.0
    assert doc["cost"] == costs["cost"]


def test_without_a_tariff_sessions_go_out_unpriced() -> None:
    s = Session(1, "tag", t("09:00"), 0.0, 500.0, stopped=t("10:00"))
    doc = json.loads(session_payload("CP01", s))
    assert "cost" not in doc and doc["energy_kwh"] == 0.5
