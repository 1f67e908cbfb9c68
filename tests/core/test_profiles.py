"""Device profiles: the shipped ones load and mean what their documents say, and
every kind of mistake in a profile is reported as ``file:line: field: message``.

Mistakes live as folders in tests/cases/profiles/<case>/ (Telegraf-style):
``profile.yaml`` plus either ``expected.err`` (the exact error text, file path
shown as ``profile.yaml``) or ``expected.out`` (the compiled points, one line
each). A new bug becomes a new folder, not a new function.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from gateway.core.codec import CodecError
from gateway.core.profile import Profile, ProfileLibrary, available_profiles, load_profile
from gateway.core.semantics import (
    CHARGE_STATE_CODES,
    FAN_CODES,
    MODE_CODES,
    POWER_CODES,
    STANDARD_POINTS,
)
from gateway.core.site import DeviceConfig
from gateway.core.sourcefile import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parents[1] / "cases" / "profiles"
DOCS = ROOT / "docs"
LIBRARY = ProfileLibrary()
SHIPPED = available_profiles()


def profile(profile_id: str) -> Profile:
    return LIBRARY.get(profile_id)


# -- case folders -------------------------------------------------------------------


def summary(p: Profile) -> str:
    """One line per compiled point: what a reviewer needs to check a profile."""
    lines = []
    for point in p.points.values():
        parts = [point.name, point.table, f"0x{point.address:04X}", f"x{point.count}",
                 point.dtype, point.order, f"scale={point.scale:g}",
                 "rw" if point.writable else "r"]
        if point.offset:
            parts.append(f"offset={point.offset:g}")
        if point.bit is not None:
            parts.append(f"bit={point.bit}")
        if point.min is not None or point.max is not None:
            parts.append("bounds=" + "..".join("" if v is None else f"{v:g}"
                                                for v in (point.min, point.max)))
        if point.names is not None:
            parts.append("enum=" + ",".join(f"{k}:{v}" for k, v in point.names.items()))
        if point.unit:
            parts.append(point.unit)
        lines.append(" ".join(parts))
    return "\n".join(lines)


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()), ids=str)
def test_profile_case(case: str) -> None:
    folder = CASES / case
    path = folder / "profile.yaml"
    err, out = folder / "expected.err", folder / "expected.out"
    assert err.exists() != out.exists(), f"{case}: needs exactly one of expected.err/.out"
    if err.exists():
        with pytest.raises(ConfigError) as exc:
            load_profile(path)
        assert str(exc.value).replace(f"{folder}/", "") == err.read_text(encoding="utf-8").strip()
    else:
        assert summary(load_profile(path)) == out.read_text(encoding="utf-8").strip()


# -- shipped profiles ---------------------------------------------------------------


def test_the_bundled_device_models_are_shipped() -> None:
    assert {"eastron-sdm630", "chint-dtsu666", "acrel-adl400", "generic-tuf2000m",
            "coolautomation-coolmasternet", "lg-pdrycb500",
            "heidelberg-energy-control"} <= set(SHIPPED)
    assert {profile(i).kind for i in SHIPPED} == {"meter", "hvac", "water", "charger"}


@pytest.mark.parametrize("profile_id", SHIPPED)
def test_shipped_profile_loads_and_documents_itself(profile_id: str) -> None:
    p = profile(profile_id)
    spec = p.spec
    assert spec.source.url is not None and spec.source.url.startswith("https://")
    assert spec.verified and spec.unverified, "say what was checked and what was not"
    assert spec.example, "give an example site entry"
    for entry in spec.example.values():
        device = DeviceConfig.model_validate(entry)
        assert device.profile == profile_id
        assert (device.index is None) == (p.per_unit is None)
        p.unit_base(device.index)  # inside the gateway's range of units
    text = Path(p.path).read_text(encoding="utf-8")
    assert text.startswith("#"), "start with a header comment: what the device is"


@pytest.mark.parametrize("profile_id", SHIPPED)
def test_writable_points_honour_their_bounds_and_enums(profile_id: str) -> None:
    for point in profile(profile_id).points.values():
        if not point.writable:
            continue
        if point.names is not None:
            std = STANDARD_POINTS[point.name].codes
            assert std is not None
            for name in point.names:
                regs = point.encode(name)
                assert point.decode(regs) == std[name]
                assert point.encode(std[name]) == regs
            with pytest.raises(CodecError):
                point.encode("turbo")
            continue
        assert point.min is not None and point.max is not None
        for value in (point.min, point.max, (point.min + point.max) / 2):
            back = float(point.decode(point.encode(value)))
            assert math.isclose(back, value, abs_tol=point.scale)
        with pytest.raises(CodecError, match="below the minimum"):
            point.encode(point.min - 0.5)
        with pytest.raises(CodecError, match="above the maximum"):
            point.encode(point.max + 0.5)


@pytest.mark.parametrize("profile_id", SHIPPED)
def test_every_point_is_answered_by_the_simulated_device(profile_id: str) -> None:
    p = profile(profile_id)
    if p.protocol != "modbus":
        return  # meters answer by DI: tests/simulators/test_meter_bus.py
    index = p.per_unit.first if p.per_unit else None
    ranges = p.implemented(index)
    for point in p.points_for(index).values():
        assert any(r.table == point.table and r.start <= point.address and point.end <= r.end
                   for r in ranges), point.name


# -- what the shipped maps mean ---------------------------------------------------------


def test_coolmasternet_addresses_each_unit_in_its_own_block() -> None:
    p = profile("coolautomation-coolmasternet")
    assert p.points_for(3)["setpoint_c"].address == 16 + 2 * 16 + 2
    assert p.points_for(1)["mode"].address == 16  # register 17 in the PRM's numbering
    assert p.points_for(64)["remote_lock"].address == 16 + 63 * 16 + 8
    assert p.points["setpoint_c"].address == 2  # the profile itself keeps offsets
    [block] = p.implemented(3)
    assert (block.table, block.start, block.end) == ("holding", 48, 63)
    assert p.spec.fill == 0xFFFF and p.spec.unmapped_start_is_error
    for bad in (0, 65, None):
        with pytest.raises(ValueError):
            p.points_for(bad)


def test_coolmasternet_values() -> None:
    points = profile("coolautomation-coolmasternet").points_for(3)
    setpoint = points["setpoint_c"]
    assert setpoint.decode([255]) == 25.5
    assert setpoint.encode(25.5) == [255]
    assert setpoint.encode(26) == [260]
    for too_far in (15.9, 32.5, 35):
        with pytest.raises(CodecError):
            setpoint.encode(too_far)
    assert points["mode"].encode("heat") == [1]
    assert points["mode"].encode("fan") == [5]
    assert points["mode"].decode([3]) == MODE_CODES["dry"]
    with pytest.raises(CodecError):
        points["mode"].decode([4])  # HAux: no standard mode
    with pytest.raises(CodecError):
        points["mode"].encode("heat_aux")
    assert points["fan"].encode("very_low") == [5]
    assert points["fan"].decode([3]) == FAN_CODES["auto"]
    assert points["power"].encode("on") == [1]
    assert points["power"].decode([0]) == POWER_CODES["off"]
    assert points["room_temp_c"].decode([0xFFEC]) == -2.0
    assert not points["room_temp_c"].writable and not points["error_code"].writable


def test_lg_pdrycb500_values() -> None:
    points = profile("lg-pdrycb500").points
    assert (points["power"].table, points["power"].address) == ("coil", 0)
    assert points["power"].encode("on") == [1]
    with pytest.raises(CodecError):
        points["power"].encode(2)
    assert points["mode"].encode("heat") == [4]
    with pytest.raises(CodecError):
        points["mode"].encode("dry")  # not in the LG table
    assert points["setpoint_c"].encode(30) == [300]
    with pytest.raises(CodecError):
        points["setpoint_c"].encode(17.5)
    assert points["fan"].decode([7]) == FAN_CODES["top"]  # Super High
    assert points["room_temp_c"].decode([235]) == 23.5
    assert (points["room_temp_c"].table, points["room_temp_c"].address) == ("input", 2)
    assert (points["error_code"].table, points["error_code"].address) == ("input", 0x63)


def test_dtsu666_reads_raw_scaled_floats() -> None:
    points = profile("chint-dtsu666").points
    # 230.0 V is sent as 2300.0 (0x450FC000), 50 Hz as 5000.0, 1 kW as 10000.0 (0.1 W)
    assert points["voltage_l1_v"].decode([0x450F, 0xC000]) == 230.0
    assert points["frequency_hz"].decode([0x459C, 0x4000]) == 50.0
    assert points["active_power_kw"].decode([0x461C, 0x4000]) == 1.0
    assert points["current_l1_a"].decode([0x459C, 0x4000]) == 5.0
    assert points["power_factor"].decode([0xC46D, 0x8000]) == -0.95
    assert points["energy_import_kwh"].decode([0x4366, 0x0000]) == 230.0
    blocks = [(r.start, r.end) for r in profile("chint-dtsu666").implemented()]
    assert blocks == [(0x0000, 0x002E), (0x101E, 0x1031), (0x2000, 0x2045)]


def test_adl400_reads_the_primary_side_block() -> None:
    p = profile("acrel-adl400")
    primary = {n for n, pt in p.points.items() if pt.address >= 0x0800}
    assert primary == set(p.points) - {"pt_ratio", "ct_ratio"}
    assert p.points["energy_import_kwh"].decode([0x0001, 0xE240]) == 12345.6
    assert p.points["active_power_kw"].decode([0x4366, 0x0000]) == 230.0


def test_tuf2000m_reads_low_word_first() -> None:
    points = profile("generic-tuf2000m").points
    assert points["flow_m3_h"].decode([0x8000, 0x4212]) == 36.625
    assert points["volume_m3"].decode([0xE240, 0x0001]) == 123456
    assert points["volume_m3"].counter


def test_heidelberg_energy_control_registers() -> None:
    """The register table's (and evcc heidelberg-ec.go's) numbers and scalings."""
    points = profile("heidelberg-energy-control").points
    where = {n: (p.table, p.address) for n, p in points.items()}
    assert where["charge_state"] == ("input", 5)
    assert where["current_l1_a"] == ("input", 6) and where["voltage_l1_v"] == ("input", 10)
    assert where["active_power_kw"] == ("input", 14)
    assert where["energy_import_kwh"] == ("input", 17)
    assert where["watchdog_timeout_s"] == ("holding", 257)
    assert where["standby"] == ("holding", 258)
    assert where["current_limit_a"] == ("holding", 261)
    assert where["failsafe_current_a"] == ("holding", 262)
    assert points["charge_state"].decode([7]) == CHARGE_STATE_CODES["c2"]
    assert points["charge_state"].decode([4]) == CHARGE_STATE_CODES["b1"]
    assert points["current_l2_a"].decode([158]) == 15.8
    assert points["energy_import_kwh"].decode([0x0001, 0xE240]) == 123.456  # Wh, high first
    assert points["current_limit_a"].encode(6.0) == [60]
    assert points["current_limit_a"].encode(0) == [0]
    assert points["watchdog_timeout_s"].encode(15) == [15000]  # ms, the table's default
    assert points["standby"].encode("off") == [4]  # evcc hecStandbyDisabled
    with pytest.raises(CodecError):
        points["current_limit_a"].encode(16.5)


# -- the semantic model's reference page ------------------------------------------------


def _doc_table(text: str) -> dict[str, list[str]]:
    """Rows of the standard-point tables: ``| `name` | kinds | unit | counter | … |``."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\|\s*`([a-z0-9_]+)`\s*\|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def test_semantic_model_doc_lists_every_standard_point() -> None:
    text = (DOCS / "semantic-model.md").read_text(encoding="utf-8")
    rows = _doc_table(text.split("## Standard enum codes", 1)[0])
    for name, std in STANDARD_POINTS.items():
        assert name in rows, f"{name} is missing from docs/semantic-model.md"
        kinds, unit, counter = rows[name][:3]
        assert set(kinds.split(", ")) == set(std.kinds), name
        assert unit == (std.unit or "—"), name
        assert (counter == "yes") == std.counter, name
    unknown = set(rows) - set(STANDARD_POINTS)
    assert not unknown, f"docs/semantic-model.md lists names semantics.py lacks: {unknown}"


def test_semantic_model_doc_lists_every_enum_code() -> None:
    text = (DOCS / "semantic-model.md").read_text(encoding="utf-8")
    for title, codes in (("mode", MODE_CODES), ("fan", FAN_CODES), ("power", POWER_CODES),
                         ("charge_state", CHARGE_STATE_CODES)):
        section = text.split(f"### `{title}`", 1)[1].split("###", 1)[0]
        rows = _doc_table(section)
        assert {k: int(v[0]) for k, v in rows.items()} == codes, title


def test_profiles_doc_walkthrough_profile_loads(tmp_path: Path) -> None:
    """The YAML of 'Add a meter model' in docs/profiles.md is a working profile."""
    text = (DOCS / "profiles.md").read_text(encoding="utf-8")
    block = text.split("<!-- walkthrough -->", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "acme-pm100.yaml"
    path.write_text(block, encoding="utf-8")
    p = load_profile(path)
    assert p.kind == "meter" and "energy_import_kwh" in p.points
    # … and the mistake it shows is reported exactly as the page quotes it.
    quoted = re.search(r"^drivers/acme-pm100\.yaml:\d+: .*$", text, re.MULTILINE)
    assert quoted is not None
    path.write_text(block.replace("unit: kW}", "unit: W}"), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_profile(path)
    assert str(exc.value).replace(str(path), "drivers/acme-pm100.yaml") == quoted.group(0)
