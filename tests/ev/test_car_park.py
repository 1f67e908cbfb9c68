"""The car park service's session message: priced by the hook the daemon hands in, and
still sent when pricing fails."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.core.clock import ScaledClock
from gateway.energy.ev_sessions import session_costs
from gateway.energy.tariff import load_tariff
from gateway.ev.car_park import ChargingService
from gateway.ev.charger_state import Session
from tests.ev.ev_world import charging_config
from tests.sitefiles import ROOT

TZ = ZoneInfo("Asia/Shanghai")


class NoWindow:
    def window_so_far(self, now: float) -> tuple[float, float, float] | None:
        return None


async def _nothing(topic: str, payload: bytes) -> None:
    return None


def service() -> ChargingService:
    clock = ScaledClock(datetime(2026, 7, 15, 12, tzinfo=TZ))
    return ChargingService(charging_config(1, 0), clock, NoWindow(), 100.0,
                           topic_prefix="escogw/s1", set_state=_nothing, send=_nothing)


def session() -> Session:
    t0 = datetime(2026, 7, 15, 11, 30, tzinfo=TZ).timestamp()
    s = Session(5, "tag", t0, 0.0, 7000.0, stopped=t0 + 3600, reason="EVDisconnected")
    s.samples = [(t0, 0.0), (t0 + 3600, 7000.0)]
    return s


async def test_a_finished_session_goes_out_with_its_cost_by_period() -> None:
    svc = service()
    tariff = load_tariff(ROOT / "tariffs" / "hubei-general-ic.yaml")
    svc.price_session = lambda s: session_costs(s, tariff, TZ)
    svc._session_done("AC01", session())
    retained, topic, payload = svc._out.get_nowait()
    doc = json.loads(payload)
    assert (retained, topic) == (False, "escogw/s1/ev/session")
    assert doc["by_period"] == {"flat": {"kwh": 3.5, "cost": 2.28},
                                "valley": {"kwh": 3.5, "cost": 1.02}}
    assert doc["cost"] == 3.3


async def test_a_session_that_cannot_be_priced_is_still_sent(
        caplog: pytest.LogCaptureFixture) -> None:
    svc = service()

    def broken(_s: Session) -> dict[str, object]:
        raise LookupError("no tariff version in force")

    svc.price_session = broken
    svc._session_done("AC01", session())
    doc = json.loads(svc._out.get_nowait()[2])
    assert doc["energy_kwh"] == 7.0 and "cost" not in doc
    assert "could not be priced" in caplog.text
