"""The gateway as a process (``escogw run``) with the simulator's car park behind the demo
site's main meter: chargers connect, their state reaches MQTT; SIGKILL the gateway and the
chargers — firmware that drops its TxDefault profiles once the central system is gone —
fall back to their ChargePointMaxProfile shares, together within the fail-safe budget."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.mqtt_probe import Probe
from tests.processes import control, gateway, simulator
from tests.services import Mosquitto, free_port
from tests.sitefiles import ROOT, replace_section, site_copy

pytestmark = pytest.mark.slow

FAILSAFE_KW = 20.0
LEASE_S = 20.0


def car_park(port: int) -> dict[str, Any]:
    chargers = {f"CP0{i}": {"ac": {"phases": 3, "max_current_a": 16}, "circuit": "park",
                            "simulate": {"forgets_offline": True, "apply_delay_s": 1.0,
                                         "car": {"arrive_s": 0, "stay_h": 8, "kwh": 40}}}
                for i in range(1, 5)}
    return {"limit_kw": 90, "margin_kw": 5, "failsafe_kw": FAILSAFE_KW, "cycle_s": 5,
            "failsafe_after_s": LEASE_S, "meter_interval_s": 5, "host": "127.0.0.1",
            "port": port, "circuits": {"park": {"max_kw": 60}}, "chargers": chargers}


def rules_without_charging(tmp_path: Path) -> str:
    """The demo rules without their charging section: its departures would hold the
    commuters' cars for the valley, and this test wants every charger drawing."""
    data = yaml.safe_load((ROOT / "rules" / "demo-office.yaml").read_text())
    data.pop("charging", None)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return str(path)


def draws(site: Path) -> dict[str, float]:
    answer = control(site, {"cmd": "state"})
    state: dict[str, Any] = answer["state"]  # type: ignore[assignment]
    return {cid: c["draw_kw"] for cid, c in state["chargers"].items()}


def wait(what: Any, timeout: float, site: Path) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        now = draws(site)
        if what(now) or time.monotonic() > deadline:
            return now
        time.sleep(0.5)


@pytest.mark.timeout(300)  # its own waits (150 s at most for the steering) decide first
def test_sigkill_leaves_the_chargers_within_the_failsafe_budget(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    site = replace_section(site_copy(tmp_path, speed=1, poll_interval_s=2,
                                     edit={"gateway": {"rules": rules_without_charging(tmp_path)}}),
                           "charging", car_park(free_port()))
    with simulator(site) as sim:
        probe = Probe(mosquitto.host, mosquitto.port, "escogw/demo-office/ev/#",
                      client_id="ev-probe", persistent=False)
        gw = gateway(site, tmp_path / "outbox.sqlite", mosquitto.port)
        gw.start()
        try:
            gw.wait_log("OCPP 1.6J central system on ws://127.0.0.1:", 30)
            # steered: the gateway has set every connector's limit, which lets them charge
            # above the fail-safe budget together
            def steered(msgs: list[tuple[str, bytes, Any]]) -> bool:
                last: dict[str, Any] = {}
                for topic, payload, retained in msgs:
                    # not retained: another test's car park (its DC01) on the shared broker
                    if topic.endswith("/state") and not retained:
                        last[topic.split("/")[-2]] = json.loads(payload)
                return len(last) == 4 and all(
                    st["online"] and st["smart_charging"] is True
                    and (st["connectors"]["1"]["limit_kw"] or 0) > 5
                    and st["connectors"]["1"]["session"] is not None for st in last.values())

            # (generous: the machine may be loaded; nothing asserts how fast)
            probe.wait_for(steered, timeout=150)
            before = wait(lambda d: sum(d.values()) > 30, 30, site)
            assert sum(before.values()) > 30, before
            probe.wait_for(lambda m: any(t.endswith("/ev/allocation") for t, _, _ in m))
            gw.kill()
            killed = time.monotonic()
            # once the lease runs out, only the shares hold: 4 × 5 kW
            after = wait(lambda d: sum(d.values()) <= FAILSAFE_KW + 1e-6, LEASE_S + 20, site)
            assert sum(after.values()) <= FAILSAFE_KW + 1e-6, after
            assert time.monotonic() - killed <= LEASE_S + 20
            assert all(kw > 0 for kw in after.values()), after  # still charging
            assert "refused" not in sim.log_text()
        finally:
            gw.kill()
            probe.close()
