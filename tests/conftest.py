"""Shared fixtures: real Mosquitto, InfluxDB 1.x and VictoriaMetrics (tests/services.py).

Session-scoped, started on first use, each on a free loopback port with its own
temporary directory, killed at the end of the session. A test may `stop()` one
(an outage) and `start()` it again on the same port with the same data; a
service a test left stopped is started again after that test, so the next test
finds it running. A failed test's report ends with the logs of the services it
used.

A missing binary skips the test with the Debian package to install, except
under CI=true, where it fails: CI installs them (scripts/ensure-services).
Tests using these fixtures get the `services` marker automatically, so
`pytest -m "not services"` runs the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.notify import NotifySocket
from tests.services import InfluxDB, Mosquitto, Service, ServiceUnavailable, VictoriaMetrics

SERVICE_FIXTURES = ("mosquitto", "influxdb", "victoria_metrics")

S = TypeVar("S", bound=Service)

# Session services started so far, in start order.
_session_services: dict[str, Service] = {}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def make_service(cls: type[S], *args: Any, **kwargs: Any) -> S:
    """Construct a service, or skip the test (fail under CI=true) when its
    binary is not installed."""
    try:
        return cls(*args, **kwargs)
    except ServiceUnavailable as e:
        if in_ci():
            pytest.fail(f"{e} — CI must have it (scripts/ensure-services)", pytrace=False)
        pytest.skip(str(e))


def _session_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, cls: type[S]
) -> Iterator[S]:
    key = request.fixturename or cls.name
    svc = make_service(cls, tmp_path_factory.mktemp(cls.name))
    request.addfinalizer(lambda: svc.stop(timeout=10))
    svc.start()
    _session_services[key] = svc
    try:
        yield svc
    finally:
        _session_services.pop(key, None)


@pytest.fixture(scope="session")
def mosquitto(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mosquitto]:
    """Mosquitto broker: .host, .port; anonymous, QoS1 persistence, nodelay."""
    yield from _session_service(request, tmp_path_factory, Mosquitto)


@pytest.fixture(scope="session")
def influxdb(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InfluxDB]:
    """InfluxDB 1.x: .host, .port, .url; v1 /write?db= and /query; no databases yet."""
    yield from _session_service(request, tmp_path_factory, InfluxDB)


@pytest.fixture(scope="session")
def victoria_metrics(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VictoriaMetrics]:
    """VictoriaMetrics: .host, .port, .url; /api/v2/write, /api/v1/export, .flush()."""
    yield from _session_service(request, tmp_path_factory, VictoriaMetrics)


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    """$NOTIFY_SOCKET for this test (child processes inherit it)."""
    sock = NotifySocket(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock.path))
    yield sock
    sock.close()


@pytest.fixture(autouse=True)
def _fresh_codec_under_mutation() -> None:
    """Under ``make mutation`` each mutant runs in a process forked after the whole
    selection ran once, so the codec's cached decoders and encoders were built by the
    original code; a mutant inside them would never run. Start each test without them."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        from gateway.core import codec

        codec.decoder.cache_clear()
        codec.encoder.cache_clear()


@pytest.fixture(autouse=True)
def _restart_stopped_services() -> Iterator[None]:
    """After each test, start again any session service it left stopped."""
    yield
    for svc in list(_session_services.values()):
        if not svc.running:
            svc.start()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test's report shows the tail of each service log it used."""
    report = yield
    if report.when == "call" and report.failed:
        for name in SERVICE_FIXTURES:
            svc = _session_services.get(name)
            if svc is not None and name in getattr(item, "fixturenames", ()):
                report.sections.append((f"{name} log ({svc.log_path})", svc.log_tail(60)))
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in SERVICE_FIXTURES):
            item.add_marker(pytest.mark.services)
