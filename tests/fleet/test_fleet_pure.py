"""The pure parts of fleet operations: bundles from any bytes, the health verdict that
rolls a bundle back, staged rollout, the fleet file's file:line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.core.settings import FleetHealthLimits
from gateway.core.sourcefile import ConfigError
from gateway.fleet.bundle import MAX_BYTES, BundleError, BundleFile, make_bundle, parse_bundle
from gateway.fleet.inventory import load_fleet
from gateway.fleet.rollout import outcome, stages
from gateway.fleet.site_health import HealthFacts, verdict

RULES = {"rules": BundleFile("office.yaml", "groups: {}\n")}


def good() -> dict[str, object]:
    bundle = make_bundle("2026-12-06.1", "alice", datetime(2026, 12, 6, tzinfo=UTC), RULES)
    data: dict[str, object] = json.loads(bundle.payload())
    return data


def test_a_bundle_round_trips_and_its_digest_covers_the_files() -> None:
    bundle = parse_bundle(json.dumps(good()).encode())
    assert bundle.files["rules"].text == "groups: {}\n" and bundle.pushed_by == "alice"
    again = make_bundle("other-version", "bob", datetime.now(UTC), RULES)
    assert again.digest == bundle.digest  # same content, same digest


@pytest.mark.parametrize(("payload", "field"), [
    (b"", ""), (b"\xff\xfe", ""), (b"[" * 100_000, ""), (b"[1]", ""),
    (json.dumps({**good(), "v": 2}).encode(), "v"),
    (json.dumps({**good(), "version": "../etc"}).encode(), "version"),
    (json.dumps({**good(), "version": 7}).encode(), "version"),
    (json.dumps({**good(), "files": {}}).encode(), "files"),
    (json.dumps({**good(), "files": {"firmware": {"name": "x", "text": "y"}}}).encode(),
     "files.firmware"),
    (json.dumps({**good(), "files": {"rules": {"name": "../passwd", "text": "y"}}}).encode(),
     "files.rules.name"),
    (json.dumps({**good(), "files": {"rules": {"name": "a.yaml", "text": "changed"}}}).encode(),
     "digest"),
    (b" " * (MAX_BYTES + 1), ""),
])
def test_any_bytes_are_refused_naming_the_field(payload: bytes, field: str) -> None:
    with pytest.raises(BundleError) as exc:
        parse_bundle(payload)
    assert exc.value.field == field


def facts(alarms: tuple[str, ...] = (), failing: tuple[str, ...] = (),
          tick_failures: int = 0) -> HealthFacts:
    return HealthFacts("2026-12-06T00:00:00Z", "0.1.0", 1.0, 3, 3, 23, failing, 0, 0.0, 0,
                       True, 10, tick_failures, alarms, "abc")


def test_the_verdict_counts_only_what_got_worse() -> None:
    limits = FleetHealthLimits()
    before = facts(alarms=("calendar:coverage",), failing=("ac-meter",))
    assert verdict(before, before, limits) == []
    assert verdict(before, facts(alarms=(), failing=()), limits) == []  # better is fine
    worse = verdict(before, facts(alarms=("calendar:coverage", "demand:meter"),
                                  failing=("ac-meter", "ac-r101"), tick_failures=2), limits)
    assert worse == ["1 new alarm(s): demand:meter", "1 more device(s) failing: ac-r101",
                     "2 control tick(s) failed"]
    assert verdict(before, facts(alarms=("calendar:coverage", "demand:meter"),
                                 failing=("ac-meter",)), FleetHealthLimits(new_alarms=1)) == []


def test_health_summary_caps_its_lists() -> None:
    many = tuple(f"write:ac-{n}:power" for n in range(500))
    body = json.loads(facts(alarms=many).payload("s1"))
    assert body["alarms_active"] == 500 and len(body["alarms"]) == 20 and body["site"] == "s1"


def test_staged_rollout_one_site_first() -> None:
    assert stages(["a", "b", "c"]) == [["a"], ["b", "c"]]
    assert stages(["a"]) == [["a"]]
    assert outcome({"desired_digest": "d1", "state": "watching"}, "d1") is None
    assert outcome({"desired_digest": "d0", "state": "applied"}, "d1") is None
    assert outcome({"desired_digest": "d1", "state": "rolled-back"}, "d1") == "rolled-back"


def test_a_fleet_file_mistake_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text("broker: {host: h, port: 99999}\nsites: {a: {}}\n")
    with pytest.raises(ConfigError) as exc:
        load_fleet(path)
    assert str(exc.value).startswith(f"{path}:1: broker.port:")
    path.write_text("broker: {host: h}\nsites: {a: {}}\ngroups:\n  g: [a, ghost]\n")
    with pytest.raises(ConfigError) as exc:
        load_fleet(path)
    assert str(exc.value) == f"{path}:4: groups.g[1]: 'ghost' is not under sites:"
