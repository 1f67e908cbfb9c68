"""Operator overrides from the CLI reach the running gateway's control loop through the
broker; the clamps still apply; --dry-run decides without writing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.processes import control, escogw, gateway, simulator
from tests.services import Mosquitto
from tests.sitefiles import site_copy

ALWAYS_COOL = """
version: 1
site: demo-office
groups: {offices: {match: {use: office}}}
policy: {cooling_min_c: 26, heating_max_c: 20}
protection: {restart_stagger_s: 0}
schedules:
  always:
    group: offices
    every_day: [{at: "00:00", power: on, mode: cool, setpoint_c: 26, fan: auto}]
"""


@pytest.mark.slow
def test_cli_override_goes_through_the_running_gateway(mosquitto: Mosquitto,
                                                       tmp_path: Path) -> None:
    # rules that do not depend on today's date: offices cool at 26 °C every day, all year
    rules = tmp_path / "rules.yaml"
    rules.write_text(ALWAYS_COOL)
    site = site_copy(tmp_path, poll_interval_s=2, edit={"gateway": {"rules": str(rules)}})
    with simulator(site):
        gw = gateway(site, tmp_path / "outbox.sqlite", mosquitto.port)
        gw.start()
        try:
            gw.wait_log("is online")
            deadline = time.monotonic() + 30
            while not control(site, {"cmd": "state"})["state"]["units"][  # type: ignore[index]
                    "ac-r104"]["power"]:
                assert time.monotonic() < deadline, "the schedule never started ac-r104"
                time.sleep(0.2)  # polling the simulator's state: it has no event to wait on
            port = str(mosquitto.port)
            ok = escogw("override", "--config", str(site), "--mqtt-port", port,
                        "ac-r104", "setpoint_c", "27.5")
            assert ok.returncode == 0, ok.stderr
            assert "ac-r104.setpoint_c = 27.5" in ok.stdout
            units = control(site, {"cmd": "state"})["state"]["units"]  # type: ignore[index]
            assert units["ac-r104"]["setpoint_c"] == 27.5
            low = escogw("override", "--config", str(site), "--mqtt-port", port,
                         "ac-r104", "setpoint_c", "22")
            assert low.returncode == 1 and "26" in low.stderr  # refused below the floor
            units = control(site, {"cmd": "state"})["state"]["units"]  # type: ignore[index]
            assert units["ac-r104"]["setpoint_c"] == 27.5
        finally:
            gw.stop()
