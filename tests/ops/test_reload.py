"""SIGHUP: the rules are reloaded (or a bad file refused with file:line, the old set in force)
while polling goes on — no reading is dropped (seqs stay contiguous)."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from tests.mqtt_probe import Probe
from tests.notify import NotifySocket
from tests.processes import gateway, simulator
from tests.services import Mosquitto
from tests.sitefiles import ROOT, site_copy


@pytest.mark.slow
def test_sighup_reloads_rules_without_dropping_a_reading(mosquitto: Mosquitto,
                                                         tmp_path: Path,
                                                         notify_socket: NotifySocket) -> None:
    rules = tmp_path / "rules.yaml"
    shutil.copy(ROOT / "rules" / "demo-office.yaml", rules)
    site = site_copy(tmp_path, poll_interval_s=2, edit={"gateway": {"rules": str(rules)}})
    notify = notify_socket
    with simulator(site):
        probe = Probe(mosquitto.host, mosquitto.port, "escogw/demo-office/#",
                      client_id="reload-probe", persistent=False)
        gw = gateway(site, tmp_path / "outbox.sqlite", mosquitto.port)
        gw.start()
        try:
            assert notify.recv().startswith("READY=1")
            probe.wait_for(lambda m: len(m) > 40)
            # a valid change: reloaded, announced on control/event
            rules.write_text(rules.read_text().replace("limit_kw: 32", "limit_kw: 33"))
            gw.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
            assert notify.recv().startswith("RELOADING=1")
            assert notify.recv() == "READY=1"
            probe.wait_for(lambda m: any(t.endswith("control/event") and
                                         b"rule set reloaded" in p for t, p, _ in m))
            # an invalid file: refused with file:line, the previous set stays
            rules.write_text(rules.read_text().replace("limit_kw: 33", "limit_kw: lots"))
            gw.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
            assert notify.recv().startswith("RELOADING=1")
            assert notify.recv() == "READY=1"
            alarm = probe.wait_for(lambda m: any(
                t.endswith("control/event") and b"rules:invalid" in p for t, p, _ in m))
            text = next(p for t, p, _ in alarm if b"rules:invalid" in p).decode()
            assert f"{rules}:" in text and "limit_kw" in text
            assert "stays in force" in text
            n = len(probe.messages)
            probe.wait_for(lambda m: len(m) > n + 40)  # polling went on
            assert gw.alive()
        finally:
            gw.stop()
            probe.close()
    seqs: dict[str, list[int]] = {}
    for msg in probe.json_on("/data"):
        seqs.setdefault(msg["device"], []).append(msg["seq"])
    assert len(seqs) == 25
    for device, got in seqs.items():
        assert got == list(range(got[0], got[0] + len(got))), f"{device} dropped a reading"
