"""Serial wire time: the formula of research/modbus.md §3, and site budgets with their fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.acquisition.bus_budget import (
    char_time_s,
    check_site_budgets,
    link_budget,
    reply_bytes,
    rtu_read_time_s,
    silent_interval_s,
)
from gateway.acquisition.planner import DevicePlan
from gateway.core.profile import load_profile, profile_path
from gateway.core.site import Site, load_site

# modbus.md §3: registers per read → (ms at 9600 8E1, ms at 19200 8E1)
TABLE = {2: (27.5, 13.8), 10: (45.8, 22.9), 80: (206, 103), 125: (309, 155)}


@pytest.mark.parametrize("n", sorted(TABLE))
def test_wire_time_reproduces_the_research_table(n: int) -> None:
    for baud, expected_ms in zip((9600, 19200), TABLE[n], strict=True):
        ms = rtu_read_time_s(n, 3, baud, "E", 1, 0.0, 0.0) * 1000
        tolerance = (0.05 if expected_ms < 100 else 0.5) + 1e-9  # the table rounds
        assert ms == pytest.approx(expected_ms, abs=tolerance), (n, baud)
        assert ms == pytest.approx((13 + 2 * n) * 11 / baud * 1000
                                   + 2 * silent_interval_s(baud, "E", 1) * 1000)


def test_character_and_silent_interval() -> None:
    assert char_time_s(9600, "E", 1) * 1000 == pytest.approx(1.146, abs=0.001)
    assert char_time_s(19200, "E", 1) * 1000 == pytest.approx(0.573, abs=0.001)
    assert char_time_s(9600, "N", 1) == pytest.approx(10 / 9600)
    assert char_time_s(9600, "N", 2) == char_time_s(9600, "O", 1) == pytest.approx(11 / 9600)
    assert silent_interval_s(9600, "E", 1) * 1000 == pytest.approx(4.01, abs=0.01)
    assert silent_interval_s(19200, "E", 1) * 1000 == pytest.approx(2.01, abs=0.01)
    assert silent_interval_s(38400, "E", 1) == silent_interval_s(115200, "N", 1) == 0.00175


def test_bits_replies_and_device_delays() -> None:
    assert reply_bytes(3, 10) == reply_bytes(4, 10) == 25
    assert reply_bytes(1, 1) == reply_bytes(2, 8) == 6
    assert reply_bytes(1, 9) == 7
    assert reply_bytes(1, 2000) == 255
    bare = rtu_read_time_s(16, 1, 9600, "E", 1)
    assert bare == pytest.approx((8 + 5 + 2) * 11 / 9600 + 2 * silent_interval_s(9600, "E", 1))
    assert rtu_read_time_s(16, 1, 9600, "E", 1, 0.03, 0.06) == pytest.approx(bare + 0.09)


def test_sdm630_cycle_times_from_the_research() -> None:
    # modbus.md §4: 33 floats, 9600 8E1, 30 ms turnaround + 60 ms Eastron gap:
    # naive 3.9 s, gap-16 plan (0x00/80, 0xC8/6, 0xE0/2, 0x156/4) 0.66 s.
    def t(n: int) -> float:
        return rtu_read_time_s(n, 4, 9600, "E", 1, 0.030, 0.060)

    assert 33 * t(2) == pytest.approx(3.9, abs=0.05)
    assert sum(t(n) for n in (80, 6, 2, 4)) == pytest.approx(0.66, abs=0.005)


# -- site budgets ----------------------------------------------------------------------


def write_site(folder: Path, devices: dict[str, dict[str, Any]],
               links: dict[str, dict[str, Any]] | None = None) -> Site:
    doc = {
        "site": {"id": "test", "floor_area_m2": 1000, "occupants": 50},
        "links": links or {"rs485-1": {"transport": "rtu", "device": "/dev/ttyUSB0",
                                       "baudrate": 9600, "parity": "N"}},
        "devices": devices,
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_site(path)


def sdm(unit: int, interval: float, link: str = "rs485-1") -> dict[str, Any]:
    return {"link": link, "profile": "eastron-sdm630", "unit_id": unit,
            "poll_interval_s": interval}


def sdm630_cycle_s(parity: str = "N") -> float:
    profile = load_profile(profile_path("eastron-sdm630"))
    plan = DevicePlan(profile, transport="rtu")
    return sum(rtu_read_time_s(b.count, b.function, 9600, parity, 1, 0.030, 0.060)
               for b in plan.blocks)


def test_one_meter_every_five_seconds_fits(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"a": sdm(1, 5)})
    budget = link_budget(site, "rs485-1")
    assert budget is not None
    (dev,) = budget.devices
    assert dev.device == "a" and dev.interval_s == 5 and dev.requests == 5
    assert dev.cycle_s == pytest.approx(sdm630_cycle_s())
    assert dev.cycle_s == pytest.approx(0.79, abs=0.01)
    assert dev.share == pytest.approx(dev.cycle_s / 5)
    assert budget.utilisation == pytest.approx(dev.share)
    assert budget.problems() == []
    assert check_site_budgets(site) == ([], [])


def test_a_busy_line_warns_with_numbers(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"a": sdm(1, 1)})
    warnings, errors = check_site_budgets(site)
    assert errors == []
    (warning,) = warnings
    assert warning.startswith("link rs485-1: polls need 0.79 s of every second (79 %) at "
                              "9600 baud 8N1: a 0.79 s every 1 s")
    assert "70 %" in warning


def test_an_overfull_line_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"a": sdm(1, 0.5), "b": sdm(2, 10)})
    budget = link_budget(site, "rs485-1")
    assert budget is not None
    assert budget.utilisation == pytest.approx(sdm630_cycle_s() * (2 + 0.1))
    warnings, errors = check_site_budgets(site)
    assert warnings == []
    (error,) = errors
    assert error.startswith("link rs485-1: polls need 1.66 s per second (166 %) at 9600 baud "
                            "8N1 and cannot fit: a 0.79 s every 0.5 s, b 0.79 s every 10 s; ")
    assert "raise poll_interval_s of a from 0.5 s to ≥ 1.3 s" in error
    assert error.endswith("or split the bus")
    # the fix works: the line drops under the warning level
    fixed = write_site(tmp_path, {"a": sdm(1, 1.3), "b": sdm(2, 10)})
    assert check_site_budgets(fixed) == ([], [])


def test_when_no_single_device_can_fix_it_every_interval_grows(tmp_path: Path) -> None:
    site = write_site(tmp_path, {f"m{i}": sdm(i, 1) for i in range(1, 4)})
    (error,) = check_site_budgets(site)[1]
    assert "polls need 2.37 s per second (237 %)" in error
    assert "raise every device's poll_interval_s ×3.4 or split the bus" in error
    fixed = write_site(tmp_path, {f"m{i}": sdm(i, 3.4) for i in range(1, 4)})
    assert check_site_budgets(fixed) == ([], [])


def test_tcp_links_have_no_wire_budget(tmp_path: Path) -> None:
    links: dict[str, dict[str, Any]] = {
        "lan": {"transport": "tcp", "host": "127.0.0.1"},
        "gw": {"transport": "rtu-over-tcp", "host": "127.0.0.1", "baudrate": 19200,
               "parity": "E"},
    }
    site = write_site(tmp_path, {"t": sdm(1, 0.1, "lan"), "s": sdm(1, 5, "gw")}, links)
    assert link_budget(site, "lan") is None
    budget = link_budget(site, "gw")
    assert budget is not None and [d.device for d in budget.devices] == ["s"]
    assert budget.line == "19200 baud 8E1"
    assert check_site_budgets(site) == ([], [])


# -- meter lines ---------------------------------------------------------------------------


def test_a_dlt645_read_is_its_frames_with_wake_up_bytes_and_the_turnaround(
        tmp_path: Path) -> None:
    """Worked by hand: reading voltage (2 value bytes) at 2400 8E1 sends 4 FE + 16 bytes
    and gets 4 FE + 18 bytes back: 42 characters of 11 bits, 192.5 ms, + 50 ms turnaround."""
    link = {"m645": {"transport": "rtu", "protocol": "dlt645", "device": "/dev/ttyUSB1"}}
    site = write_site(tmp_path, {"em": {"link": "m645", "profile": "generic-dlt645-2007",
                                        "address": "000000000001", "poll_interval_s": 60,
                                        "points": ["voltage_l1_v"]}}, link)
    budget = link_budget(site, "m645")
    assert budget is not None and budget.line == "2400 baud 8E1"  # the meter line default
    (dev,) = budget.devices
    assert dev.requests == 1
    assert dev.cycle_s == pytest.approx(42 * 11 / 2400 + 0.050)


def test_a_meter_line_polled_too_often_is_refused_with_the_fix(tmp_path: Path) -> None:
    link = {"m645": {"transport": "rtu", "protocol": "dlt645", "device": "/dev/ttyUSB1"}}
    devices = {f"em{i}": {"link": "m645", "profile": "generic-dlt645-2007",
                          "address": f"00000000000{i}", "poll_interval_s": 5}
               for i in range(1, 4)}
    devices["wm"] = {"link": "m645", "profile": "generic-cjt188-water",
                     "address": "00000000001234", "poll_interval_s": 60}
    _, errors = check_site_budgets(write_site(tmp_path, devices, link))
    (error,) = errors
    # 17 DIs of ~0.25 s each, three meters every 5 s: two and a half lines' worth
    assert error.startswith("link m645: polls need 2.52 s per second (252 %) at 2400 baud "
                            "8E1 and cannot fit: em1 4.19 s every 5 s")
    assert error.endswith("raise every device's poll_interval_s ×3.61 or split the bus")
