"""Remote configuration end to end: the shipped central broker (TLS, a password per site,
the ACL), the simulators and a gateway as real processes, the operator's ``escogw fleet``.

A valid bundle is applied and reported; an invalid one is refused with ``file:line``
reasons while the old set keeps running; a valid bundle that breaks the site's health is
rolled back by the gateway itself; a staged push stops at the first site that refuses;
a gateway that was offline during a push applies it when it returns.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.central_broker import CentralBroker
from gateway.daemon import RESTART_EXIT
from gateway.fleet.inventory import load_fleet
from gateway.fleet.operator import FleetClient
from tests.conftest import make_service
from tests.processes import Proc, escogw, simulator
from tests.services import free_port
from tests.sitefiles import ROOT, site_copy

pytestmark = [pytest.mark.services, pytest.mark.slow]

SITE = "demo-office"
#: a site in the fleet file with no gateway running: a staged push never reaches it
OTHER = "school-3"
WINDOW_S = 8
#: the demo site's rules, ticking every 2 s so that the health watch sees several ticks
BASE_RULES = (ROOT / "rules" / "demo-office.yaml").read_text().replace("tick_s: 10", "tick_s: 2")


@dataclass
class World:
    broker: CentralBroker
    tmp: Path
    site: Path
    rules: Path
    fleet: Path
    gateway: Proc


def gateway_proc(broker: CentralBroker, site: Path, tmp: Path) -> Proc:
    return Proc([sys.executable, "-m", "gateway.cli", "--log-level", "INFO", "run",
                 "--config", str(site), "--outbox", str(tmp / "outbox.sqlite"),
                 "--set", "mqtt.host=127.0.0.1", "--set", f"mqtt.port={broker.tls_port}",
                 "--set", f"mqtt.username={SITE}",
                 "--set", f"mqtt.password={broker.passwords[SITE]}",
                 "--set", f"mqtt.tls.ca_file={broker.ca}",
                 "--set", "fleet.enabled=true", "--set", "fleet.health_interval_s=1",
                 "--set", f"fleet.rollback_window_s={WINDOW_S}", "--set", "fleet.settle_s=8",
                 "--set", f"metrics.port={free_port()}"], tmp / "gateway.log")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("fleet")
    broker = make_service(CentralBroker, tmp / "central", (SITE, OTHER))
    broker.start()
    rules = tmp / "rules.yaml"
    rules.write_text(BASE_RULES)
    # the AC sub-meter does not answer: rules that limit demand on it break the site
    site = site_copy(tmp, poll_interval_s=2, edit={
        "gateway": {"rules": str(rules)},
        "devices": {"ac-meter": {"simulate": {"meter": "ac", "fault": {"kind": "no_reply"}}}}})
    fleet = tmp / "fleet.yaml"
    fleet.write_text(yaml.safe_dump({
        "broker": {"host": "127.0.0.1", "port": broker.tls_port, "username": "platform",
                   "password": broker.passwords["platform"], "tls": {"ca_file": str(broker.ca)}},
        "operator": "alice", "audit": "operator-audit.jsonl", "sites": {SITE: {}, OTHER: {}},
        "groups": {"offices": [SITE, OTHER]}}))
    with simulator(site):
        gw = gateway_proc(broker, site, tmp)
        gw.start()
        gw.wait_log("mqtt: connected")
        world = World(broker, tmp, site, rules, fleet, gw)
        yield world
        world.gateway.stop()  # the tests restart it: the one running now, not the first
    broker.stop()


def fleet(world: World, *args: str) -> tuple[int, str, str]:
    done = escogw("fleet", args[0], "--fleet", str(world.fleet), *args[1:])
    return done.returncode, done.stdout, done.stderr


def rules_file(world: World, name: str, text: str) -> Path:
    path = world.tmp / name
    path.write_text(text)
    return path


def reported(world: World) -> dict[str, object]:
    client = FleetClient(load_fleet(world.fleet).spec.broker)
    try:
        client.settle([SITE], 5)
        return client.reported.get(SITE, {})
    finally:
        client.close()


def test_status_shows_the_site_healthy_with_its_installed_rules(world: World) -> None:
    code, out, err = fleet(world, "status", "--json")
    assert code == 0, err
    rows = {r["site"]: r for r in json.loads(out)}
    row = rows[SITE]
    assert row["gateway"] == "online"
    assert row["devices"] == 25 and row["links"] == "4/4"
    assert row["rules_version"] is None and row["state"] in ("running", "applied")
    assert rows[OTHER]["gateway"] == "unknown"  # no gateway: shown, not hidden
    code, table, _ = fleet(world, "status")
    assert code == 0 and SITE in table and "health age s" in table


def test_a_valid_bundle_is_applied_and_reported(world: World) -> None:
    new = rules_file(world, "office-v2.yaml", BASE_RULES.replace("limit_kw: 32", "limit_kw: 33"))
    code, diff, _ = fleet(world, "diff", "--site", SITE, "--rules", str(new))
    assert code == 0 and "-  limit_kw: 32" in diff and "+  limit_kw: 33" in diff
    code, out, err = fleet(world, "push", "--site", SITE, "--rules", str(new),
                           "--version", "v2", "--wait", "60")
    assert code == 0, out + err
    assert f"{SITE}: applied (v2" in out
    assert "limit_kw: 33" in world.rules.read_text()
    report = reported(world)
    assert report["version"] == "v2" and report["state"] == "applied"
    world.gateway.wait_log("reload: rules")
    # the audit trail, on both sides: who pushed what, and what the gateway did with it
    audit = [json.loads(line) for line in (world.tmp / "operator-audit.jsonl").read_text()
             .splitlines()]
    assert [a["event"] for a in audit] == ["pushed", "outcome"]
    assert all(a["by"] == "alice" for a in audit) and audit[1]["results"] == {SITE: "applied"}
    events = [json.loads(line) for line in (world.tmp / "fleet-audit.jsonl").read_text()
              .splitlines()]
    assert [(e["event"], e.get("version"), e.get("pushed_by")) for e in events] == [
        ("received", "v2", "alice"), ("applied", "v2", "alice")]


def test_an_invalid_bundle_is_refused_with_file_line_and_the_old_set_runs(
        world: World) -> None:
    before = world.rules.read_text()
    bad = rules_file(world, "office-v3.yaml", before.replace("limit_kw: 33", "limit_kw: lots"))
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1)
                if "limit_kw: lots" in text)
    code, out, _ = fleet(world, "push", "--site", SITE, "--rules", str(bad),
                         "--version", "v3", "--wait", "60")
    assert code == 1
    assert f"{SITE}: refused (v3" in out
    assert f"office-v3.yaml:{line}: demand.limit_kw:" in out
    assert world.rules.read_text() == before
    report = reported(world)
    assert report["version"] == "v2" and report["state"] == "refused"
    assert report["desired_version"] == "v3"


def test_any_bytes_on_the_desired_topic_are_refused_naming_topic_and_field(
        world: World) -> None:
    before = world.rules.read_text()
    client = FleetClient(load_fleet(world.fleet).spec.broker)
    try:
        client.push(SITE, b"\xff{not json")
        assert client.wait(lambda: any(
            "not JSON" in r for r in client.reported.get(SITE, {}).get("reasons", [])), 30)
        report = client.reported[SITE]
        assert report["state"] == "refused" and report["version"] == "v2"
        assert report["reasons"][0].startswith(f"escogw/{SITE}/fleet/desired: (payload): ")
    finally:
        client.close()
    assert world.rules.read_text() == before


def test_a_bundle_that_breaks_the_sites_health_is_rolled_back(world: World) -> None:
    before = world.rules.read_text()
    # demand limited on a meter that does not answer: valid, and the site loses its limit
    text = (before.replace("  meter: main-meter\n", "  meter: ac-meter\n  meter_stale_s: 3\n")
            .replace('  active: {from: "01:00", to: "18:00", day_types: [workday, '
                     'makeup_workday]}\n', "")
)
    assert text.count("ac-meter") == 1 and "active: {from" not in text.split("\ndemand:")[1]
    breaking = rules_file(world, "office-v4.yaml", text)
    code, out, _ = fleet(world, "push", "--site", SITE, "--rules", str(breaking),
                         "--version", "v4", "--wait", "60")
    assert code == 1, out
    assert f"{SITE}: rolled-back (v4" in out
    assert "demand:meter" in out
    assert world.rules.read_text() == before
    report = reported(world)
    assert report["version"] == "v2" and report["state"] == "rolled-back"


def test_a_staged_push_stops_at_the_first_site_that_refuses(world: World) -> None:
    bad = rules_file(world, "office-v5.yaml", "groups: {nope: [}\n")
    code, out, err = fleet(world, "push", "--group", "offices", "--rules", str(bad),
                           "--version", "v5", "--wait", "60")
    assert code == 1 and f"{SITE}: refused (v5" in out
    assert f"rollout stopped: {OTHER} not pushed" in err
    # nothing retained for the second site
    from tests.mqtt_probe import Probe

    probe = Probe("127.0.0.1", world.broker.tls_port, f"escogw/{OTHER}/fleet/desired",
                  client_id="desired-check", persistent=False, username="platform",
                  password=world.broker.passwords["platform"], ca_file=world.broker.ca)
    try:
        probe.publish(f"escogw/{OTHER}/fleet/desired", b"", qos=1)  # an order marker
        assert probe.messages == [] or all(p == b"" for _, p, _ in probe.messages)
    finally:
        probe.close()


def test_an_offline_gateway_applies_its_desired_state_on_return(world: World) -> None:
    world.gateway.stop()
    new = rules_file(world, "office-v6.yaml",
                     BASE_RULES.replace("limit_kw: 32", "limit_kw: 31"))
    code, out, _ = fleet(world, "push", "--site", SITE, "--rules", str(new),
                         "--version", "v6", "--wait", "2")
    assert code == 1 and f"{SITE}: no answer" in out
    assert "limit_kw: 31" not in world.rules.read_text()
    world.gateway = gateway_proc(world.broker, world.site, world.tmp)
    world.gateway.start()
    world.gateway.wait_log("bundle v6 applied", timeout=60)
    assert "limit_kw: 31" in world.rules.read_text()
    client = FleetClient(load_fleet(world.fleet).spec.broker)
    try:
        assert client.wait(lambda: client.reported.get(SITE, {}).get("state") == "applied"
                           and client.reported[SITE].get("version") == "v6", 60)
    finally:
        client.close()


TARIFF = (ROOT / "tariffs" / "hubei-general-ic.yaml").read_text()


def test_a_tariff_travels_in_a_bundle_and_is_priced_with_after_reload(world: World) -> None:
    rules_before = world.rules.read_text()
    tariff = rules_file(world, "hubei-general-ic.yaml",
                        TARIFF.replace("version: 2024-01-consultation", "version: fleet-t1"))
    code, out, err = fleet(world, "push", "--site", SITE, "--tariff", str(tariff),
                           "--version", "t1", "--wait", "60")
    assert code == 0, out + err
    assert f"{SITE}: applied (t1" in out
    installed = world.site.parent / "tariffs" / "hubei-general-ic.yaml"
    assert "version: fleet-t1" in installed.read_text()
    world.gateway.wait_log("reload: tariff hubei-general-ic version fleet-t1 in force")
    assert world.rules.read_text() == rules_before  # a tariff-only bundle leaves the rules


def test_a_bundle_with_a_bad_tariff_changes_neither_file(world: World) -> None:
    """Rules and tariff go together or not at all: a valid rule file does not slip in
    beside a tariff that is refused."""
    rules_before = world.rules.read_text()
    installed = world.site.parent / "tariffs" / "hubei-general-ic.yaml"
    tariff_before = installed.read_text()
    rules = rules_file(world, "office-v8.yaml", rules_before.replace("limit_kw: 31",
                                                                     "limit_kw: 30"))
    assert rules.read_text() != rules_before
    bad = world.tmp / "bad" / "hubei-general-ic.yaml"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text(TARIFF.replace("version: 2024-01-consultation", "version: fleet-t2")
                   .replace("id: hubei-general-ic", "id: [oops"))
    code, out, _ = fleet(world, "push", "--site", SITE, "--rules", str(rules),
                         "--tariff", str(bad), "--version", "v8", "--wait", "60")
    assert code == 1 and f"{SITE}: refused (v8" in out
    assert "hubei-general-ic.yaml:" in out  # named as the operator named it, with a line
    assert world.rules.read_text() == rules_before
    assert installed.read_text() == tariff_before


def test_a_tariff_for_another_tariff_id_is_refused(world: World) -> None:
    other = rules_file(world, "shanghai-general.yaml", TARIFF)
    code, out, _ = fleet(world, "push", "--site", SITE, "--tariff", str(other),
                         "--version", "t3", "--wait", "60")
    assert code == 1 and "files.tariff.name" in out and "hubei-general-ic.yaml" in out


def push_in_background(world: World, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "fleet", "push", "--fleet",
                             str(world.fleet), "--site", SITE, *args, "--wait", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def restart_as_systemd_would(world: World) -> None:
    """The gateway exits with 75 to apply a site file; the unit's Restart=on-failure
    starts it again."""
    assert world.gateway.proc is not None
    assert world.gateway.proc.wait(60) == RESTART_EXIT
    world.gateway = gateway_proc(world.broker, world.site, world.tmp)
    world.gateway.start()


def site_with(world: World, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(world.site.read_text())
    edit(data)
    path = world.tmp / "pushed" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_site_file_is_applied_through_a_restart_and_watched_after_it(world: World) -> None:
    new = site_with(world, "site.yaml", lambda d: d["site"].update(occupants=70))
    push = push_in_background(world, "--site-file", str(new), "--version", "s1")
    restart_as_systemd_would(world)
    out, _ = push.communicate(timeout=120)
    assert push.returncode == 0, out
    assert f"{SITE}: applied (s1" in out
    assert yaml.safe_load(world.site.read_text())["site"]["occupants"] == 70
    report = reported(world)
    assert report["version"] == "s1" and report["state"] == "applied"


def test_a_site_file_that_breaks_the_site_is_rolled_back_through_a_second_restart(
        world: World) -> None:
    before = world.site.read_text()
    dead = free_port()  # the AC controllers' gateway moved to a port nobody listens on

    def move(d: dict[str, Any]) -> None:
        d["links"]["coolmaster"]["port"] = dead

    new = site_with(world, "site.yaml", move)
    push = push_in_background(world, "--site-file", str(new), "--version", "s2")
    restart_as_systemd_would(world)  # onto the new file
    restart_as_systemd_would(world)  # back onto the old one, after the health watch
    out, _ = push.communicate(timeout=120)
    assert push.returncode == 1, out
    assert f"{SITE}: rolled-back (s2" in out and "more device(s) failing" in out
    assert world.site.read_text() == before
    report = reported(world)
    assert report["version"] == "s1" and report["state"] == "rolled-back"


def test_a_site_file_that_renames_the_site_is_refused(world: World) -> None:
    new = site_with(world, "renamed.yaml", lambda d: d["site"].update(id="school-3"))
    code, out, _ = fleet(world, "push", "--site", SITE, "--site-file", str(new),
                         "--version", "s3", "--wait", "60")
    assert code == 1 and "site.id" in out and "cannot rename" in out
    assert world.gateway.alive()
