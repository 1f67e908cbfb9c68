"""The simulator and the gateway as real child processes, for outage and crash tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.sitefiles import ROOT


def _wait_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port}")


class Proc:
    def __init__(self, args: list[str], log: Path):
        self.args = args
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int:
        if not self.alive():
            return self.proc.returncode if self.proc else 0
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_log(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return
            if not self.alive():
                raise RuntimeError(f"{self.args} exited:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"'{text}' not in {self.log}:\n{self.log_text()[-3000:]}")


@contextmanager
def simulator(site: Path) -> Iterator[Proc]:
    """``python -m simulators run`` on a site file; ready when every TCP link listens."""
    proc = Proc([sys.executable, "-m", "simulators", "run", "--site", str(site)],
                site.parent / "simulator.log")
    proc.start()
    try:
        data = yaml.safe_load(site.read_text())
        for link in data["links"].values():
            if link["transport"] != "rtu":
                _wait_port(link["host"], link["port"])
        proc.wait_log("simulating site")
        yield proc
    finally:
        proc.stop()


def escogw(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """One ``escogw`` command (``python -m gateway.cli.main``) to its end, output captured."""
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=60)


def gateway(site: Path, outbox: Path, mqtt_port: int, name: str = "gateway",
            metrics_port: int | None = None) -> Proc:
    from tests.services import free_port

    return Proc([sys.executable, "-m", "gateway.cli", "--log-level", "INFO", "run",
                 "--config", str(site), "--outbox", str(outbox), "--mqtt-port", str(mqtt_port),
                 "--set", f"metrics.port={metrics_port or free_port()}"],
                site.parent / f"{name}.log")


def control(site: Path, message: dict[str, object]) -> dict[str, object]:
    """One command on a running simulator's control channel."""
    data = yaml.safe_load(site.read_text())
    ctl = data["simulation"]["control"]
    with socket.create_connection((ctl["host"], ctl["port"]), timeout=5) as s:
        s.sendall(json.dumps(message).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    answer: dict[str, object] = json.loads(buf)
    return answer
