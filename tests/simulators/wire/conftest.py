"""Fixtures for the Modbus wire tests: one simulator link per transport."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from tests.simulators.wire.wire_helpers import TRANSPORTS, Link, Transport, start_link


@pytest.fixture(autouse=True)
def _quiet_pymodbus() -> None:
    # Timeouts are the point of many tests here; pymodbus logs each one as an error.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


async def _link(transport: Transport, tmp_path: str, **options: object) -> AsyncIterator[Link]:
    link = await start_link(transport, tmp_path, **options)  # type: ignore[arg-type]
    try:
        yield link
    finally:
        for client in link.clients:
            client.close()
        link.handle.close()
        await link.handle.wait_closed()


@pytest.fixture(params=TRANSPORTS)
async def link(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Link]:
    """The same two units behind each transport in turn, no wire-time emulation."""
    async for value in _link(request.param, str(tmp_path)):
        yield value


@pytest.fixture(params=("rtu_over_tcp", "rtu_pty"))
async def rtu_link(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Link]:
    async for value in _link(request.param, str(tmp_path)):
        yield value


@pytest.fixture
async def tcp_link(tmp_path: object) -> AsyncIterator[Link]:
    async for value in _link("tcp", str(tmp_path)):
        yield value
