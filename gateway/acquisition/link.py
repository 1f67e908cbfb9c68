"""One Modbus link (TCP, RTU on a serial port, RTU over TCP) behind one small interface.

Each link owns exactly one pymodbus client, built with ``retries=0`` and a
short timeout: pymodbus allows one request in flight per client, and its own
retry loop holds the client's lock, starving every other unit on the bus. The
scheduler above does retries, back-off and reconnection; this module does one
request at a time and checks every reply, which pymodbus does not on RTU:

* function code, unit and count must match the request; a write's echo must
  repeat the address and the value (or count) written;
* after a TCP timeout we reconnect, so a stale transaction cannot be read as
  a fresh answer (MBAP transaction ids already tell replies apart);
* after a timeout on a serial line we wait until the line has been silent for
  t3.5, so a reply still arriving is discarded rather than mixed into the next.

Stale replies on serial lines. An RTU reply carries no transaction id: a reply
that comes after its request timed out can be taken for the answer to the
next request to that unit (the simulator's fault ``late`` does exactly that:
the reply to request k is sent when request k+1 arrives). Waiting longer does
not help, because a device may answer at any time. What does help is that a
unit answers its requests in order and each at most once, and that the shape
of a reply — function code and byte count, its *signature* — follows from the
request. So, per unit:

* every read that ends without an accepted reply (timeout, wrong reply) leaves
  its signature in the unit's list of *pending* signatures: a reply with that
  shape may still be on its way;
* a normal reply is accepted only when its signature is the request's and is
  not pending: then it cannot be an older request's reply, every older reply
  has arrived or never will, and the list is cleared (the unit is in sync);
* a reply whose signature is pending is that older request's reply: it is
  refused (``StaleReply``), the pending entries up to it are dropped, and the
  request just sent becomes pending in its turn;
* replies that arrive while no request to their unit is outstanding (pymodbus
  discards them) are still seen on their way in, parsed, and settle the
  pending entry they answer, so the list holds only replies still to come;
* a read whose signature is pending is preceded by a *resync probe*: a read
  chosen from the caller's candidates (the device's own points, so the device
  answers it) whose signature is not pending. Its accepted reply brings the
  unit back in sync; a stale reply to it is recognised by shape. A device that
  stays late is therefore never believed, and one that recovers is back after
  one probe;
* an exception reply has no byte count: while a read of the same function is
  pending it may be the older request's, so it is raised as unconfirmed (the
  planner does not learn from it) and the request stays pending;
* only when no candidate has a free signature (a device whose every read has
  one shape) is a reply of a pending shape judged by physics: on a serial line
  a fresh reply cannot begin before the request has crossed the wire, so one
  that does is stale.

A stale reply therefore never delivers values to the wrong request; the price
is one short extra read after a failure, and only then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.framer.rtu import FramerRTU

from gateway.acquisition.bus_budget import char_time_s, data_bytes, silent_interval_s
from gateway.core.site import RtuLink, RtuOverTcpLink, TcpLink

log = logging.getLogger("escogw.link")

LinkConfig = TcpLink | RtuLink | RtuOverTcpLink
_E = TypeVar("_E", bound="LinkError")

READ_FUNCTIONS = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
#: (function code, data bytes of the normal reply): what a reply looks like
Signature = tuple[int, int]
#: A read the link may send instead: (table, address, count).
Probe = tuple[str, int, int]
#: Unanswered reads remembered per unit; a reply older than this many is assumed lost.
MAX_PENDING = 4
#: Longest RTU frame (bytes): the most a late reply can keep the line busy.
MAX_FRAME = 256


def signature(function: int, count: int) -> Signature:
    """The shape of the normal reply to a read of ``count`` values with ``function``."""
    return function, data_bytes(function, count)


def rtu_replies(data: bytes) -> list[tuple[int, Signature]]:
    """(unit, signature) of each complete reply frame at the start of ``data``.

    A read reply's signature is (function, byte count); an exception reply's is
    (function | 0x80, 0); a write echo's (function, 0). Parsing stops at the
    first thing that is not a complete frame with a good CRC.
    """
    out: list[tuple[int, Signature]] = []
    while len(data) >= 5:
        unit, function = data[0], data[1]
        if function & 0x80:
            size, sig = 5, (function, 0)
        elif function in (1, 2, 3, 4):
            size, sig = 5 + data[2], (function, data[2])
        elif function in (5, 6, 15, 16):
            size, sig = 8, (function, 0)
        else:
            break
        if len(data) < size or FramerRTU.compute_CRC(data[:size - 2]) != \
                int.from_bytes(data[size - 2:size], "big"):
            break
        out.append((unit, sig))
        data = data[size:]
    return out


class LinkError(Exception):
    """A request did not produce a usable reply. ``kind`` labels metrics."""

    kind = "error"


class DeviceTimeout(LinkError):
    kind = "timeout"


class DeviceException(LinkError):
    """The device answered with a Modbus exception response.

    ``confirmed`` is False when the reply may belong to an earlier read of the
    same function that timed out (see the module docstring): then it proves
    nothing about this request, and the planner must not learn from it.
    """

    kind = "exception"

    def __init__(self, code: int, *, confirmed: bool = True):
        super().__init__(f"exception {code:02X}" + ("" if confirmed else " (unconfirmed)"))
        self.code = code
        self.confirmed = confirmed


class BadReply(LinkError):
    """A reply that does not answer the request (wrong function, unit, count, echo)."""

    kind = "bad_reply"


class StaleReply(BadReply):
    """The reply to an earlier request of this unit that had timed out."""

    kind = "stale_reply"


class ShortReply(BadReply):
    """A well-formed reply carrying fewer values than asked (a device's hidden read limit)."""

    kind = "short_reply"


class LinkDown(LinkError):
    """The link itself is not connected (TCP refused, serial port missing)."""

    kind = "link_down"


@dataclass
class LinkStats:
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    #: resync probes sent after failures (see the module docstring)
    probes: int = 0
    last_rtt_s: float = 0.0
    rtt_sum_s: float = 0.0
    busy_s: float = 0.0


class ModbusLink:
    """One request at a time over one pymodbus client, every reply checked."""

    def __init__(self, link_id: str, config: LinkConfig):
        self.id = link_id
        self.config = config
        self.serial = not isinstance(config, TcpLink)
        self.stats = LinkStats()
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._sent_at = 0.0
        self._first_byte_at = 0.0
        self._last_rx_at = 0.0
        self._char_s = 0.0
        self._t35 = 0.0
        #: unit → signatures of reads whose replies may still arrive, oldest first
        self._pending: dict[int, deque[Signature]] = {}
        #: the unit a request is outstanding for (its reply is pymodbus's to take)
        self._asking: int | None = None
        if not isinstance(config, TcpLink):
            self._char_s = char_time_s(config.baudrate, config.parity, config.stopbits,
                                       config.bytesize)
            self._t35 = silent_interval_s(config.baudrate, config.parity, config.stopbits,
                                          config.bytesize)

    @property
    def timeout_s(self) -> float:
        return self.config.timeout_s

    def in_sync(self, unit: int) -> bool:
        """True when no earlier read of ``unit`` can still deliver a reply."""
        return not self._pending.get(unit)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        now = time.monotonic()
        if sending:
            self._sent_at = now
            self._first_byte_at = 0.0
        else:
            self._last_rx_at = now
            if not self._first_byte_at:
                self._first_byte_at = now
            if any(self._pending.values()):
                self._overheard(data)
        return data

    def _overheard(self, data: bytes) -> None:
        """Settle pending reads answered by replies that nobody is waiting for."""
        for unit, sig in rtu_replies(data):
            pending = self._pending.get(unit)
            if unit == self._asking or not pending:
                continue
            if sig[0] & 0x80:
                function = sig[0] & 0x7F
                sig = next((s for s in pending if s[0] == function), sig)
            if sig in pending:
                self._settle(pending, sig)

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        c = self.config
        common: dict[str, Any] = {"timeout": c.timeout_s, "retries": 0,
                                  "reconnect_delay": 0, "trace_packet": self._trace}
        if isinstance(c, TcpLink):
            return AsyncModbusTcpClient(c.host, port=c.port, **common)
        if isinstance(c, RtuOverTcpLink):
            return AsyncModbusTcpClient(c.host, port=c.port, framer=FramerType.RTU, **common)
        return AsyncModbusSerialClient(c.device, baudrate=c.baudrate, parity=c.parity,
                                       stopbits=c.stopbits, bytesize=c.bytesize, **common)

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    async def connect(self) -> bool:
        """Open the link if it is closed; False when it cannot be opened now."""
        if self.connected:
            return True
        if self._client is not None:
            self._client.close()
        self._client = self._make_client()
        try:
            ok = bool(await self._client.connect())
        except (OSError, ModbusException) as exc:
            log.debug("link %s: connect failed: %s", self.id, exc)
            ok = False
        if not ok:
            self._client.close()
            self._client = None
        return ok

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- reads ------------------------------------------------------------------

    async def read(self, unit: int, table: str, address: int, count: int,
                   probes: Sequence[Probe] = ()) -> list[int]:
        """Read ``count`` registers or bits; raises a LinkError subclass on any failure.

        ``probes`` are reads the device is known to answer (its points); on a
        serial line one of them is sent first when this read's reply could be
        confused with a late reply to an earlier one (module docstring).
        """
        if self.serial:
            pending = self._pending.get(unit)
            if pending and signature(READ_FUNCTIONS[table], count) in pending:
                probe = self._probe(pending, probes)
                if probe is not None:
                    self.stats.probes += 1
                    try:
                        await self._read(unit, *probe)
                    except DeviceException as exc:
                        if not exc.confirmed:  # still out of step: no use asking
                            raise
                        # a confirmed exception answers the probe: in step again
        return await self._read(unit, table, address, count)

    @staticmethod
    def _probe(pending: deque[Signature], probes: Sequence[Probe]) -> Probe | None:
        """The shortest candidate whose reply cannot be mistaken for a pending one."""
        free = [p for p in probes
                if signature(READ_FUNCTIONS[p[0]], p[2]) not in pending and p[2] > 0]
        return min(free, key=lambda p: p[2], default=None)

    async def _read(self, unit: int, table: str, address: int, count: int) -> list[int]:
        function = READ_FUNCTIONS[table]
        expected = signature(function, count)
        client = await self._ready()
        call = {1: client.read_coils, 2: client.read_discrete_inputs,
                3: client.read_holding_registers, 4: client.read_input_registers}[function]
        try:
            reply = await self._execute(call(address, count=count, device_id=unit), unit,
                                        function)
        except (DeviceTimeout, BadReply, LinkDown):  # its reply may still come
            self._remember(unit, expected)
            raise
        if not self.serial:
            if reply.isError():
                raise self._count(DeviceException(int(reply.exception_code)))
            values = reply.bits[:count] if function in (1, 2) else reply.registers
            if len(values) != count:
                raise self._count(ShortReply(f"asked for {count} values, got {len(values)}"))
            return [int(v) for v in values]
        return await self._check_serial(unit, reply, function, count, expected)

    async def _check_serial(self, unit: int, reply: Any, function: int, count: int,
                            expected: Signature) -> list[int]:
        """Accept, or refuse as stale or wrong, a serial reply by its signature."""
        pending = self._pending.setdefault(unit, deque(maxlen=MAX_PENDING))
        if reply.isError():
            code = int(reply.exception_code)
            if any(f == function for f, _ in pending):
                # maybe the earlier read's reply: it settles that one, ours may follow
                self._settle(pending, next(s for s in pending if s[0] == function))
                pending.append(expected)
                raise self._count(DeviceException(code, confirmed=False))
            pending.clear()
            raise self._count(DeviceException(code))
        if function in (1, 2):
            got: Signature = (function, len(reply.bits) // 8)
            values = reply.bits[:count]
        else:
            got = (function, 2 * len(reply.registers))
            values = reply.registers
        if got in pending and (got != expected or self._stale(8)):
            # the reply of an earlier read (by its shape, or by arriving too soon)
            self._settle(pending, got)
            pending.append(expected)
            raise await self._flushed(self._count(StaleReply(
                f"a late reply to an earlier request ({got[1]} data bytes, expected "
                f"{expected[1]}) refused")))
        if got != expected:
            if pending:
                pending.append(expected)
                raise await self._flushed(self._bad(
                    f"reply with {got[1]} data bytes to a read of {expected[1]}"))
            if got[1] < expected[1]:
                raise self._count(ShortReply(f"asked for {count} values, got "
                                             f"{len(values)}"))
            pending.append(expected)  # nonsense, not our reply: ours may still come
            raise await self._flushed(self._bad(
                f"reply with {got[1]} data bytes to a read of {expected[1]}"))
        pending.clear()
        return [int(v) for v in values]

    @staticmethod
    def _settle(pending: deque[Signature], got: Signature) -> None:
        """A reply of shape ``got`` arrived: it answers the oldest such read; older ones
        (answered in order) have been answered or never will be."""
        while pending:
            if pending.popleft() == got:
                return

    def _remember(self, unit: int, expected: Signature) -> None:
        if self.serial:
            self._pending.setdefault(unit, deque(maxlen=MAX_PENDING)).append(expected)

    # -- writes -----------------------------------------------------------------

    async def write(self, unit: int, table: str, address: int, values: list[int]) -> None:
        """Write holding registers (FC06/16) or coils (FC05/15); the echo is checked."""
        client = await self._ready()
        if table == "holding":
            if len(values) == 1:
                coro, function = client.write_register(address, values[0], device_id=unit), 6
            else:
                coro, function = client.write_registers(address, values, device_id=unit), 16
        elif table == "coil":
            if len(values) == 1:
                coro, function = client.write_coil(address, bool(values[0]), device_id=unit), 5
            else:
                coro, function = client.write_coils(address, [bool(v) for v in values],
                                                    device_id=unit), 15
        else:
            raise ValueError(f"{table} is read-only")
        reply = await self._execute(coro, unit, function)
        if reply.isError():
            # an exception reply to a write has the write's own function code: a late
            # one can only be a repeated write's, which leaves the same state behind
            raise self._count(DeviceException(int(reply.exception_code)))
        echo = getattr(reply, "address", address)
        if function in (6, 5):
            written = reply.registers[0] if function == 6 else int(bool(reply.bits[0]))
            same = echo == address and written == (values[0] if function == 6
                                                  else int(bool(values[0])))
        else:
            same = echo == address and getattr(reply, "count", len(values)) == len(values)
        if not same:
            raise await self._flushed(self._bad(
                f"write echo does not match the write to {table} {address}"))

    # -- one exchange -----------------------------------------------------------

    async def _ready(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if not await self.connect():
            raise self._count(LinkDown(f"link {self.id} is not connected"))
        assert self._client is not None
        return self._client

    async def _execute(self, coro: Any, unit: int, function: int) -> Any:
        """Send, wait, and check unit and function; exception replies are returned."""
        self.stats.requests += 1
        start = time.monotonic()
        self._asking = unit
        try:
            reply = await coro
        except ModbusIOException as exc:
            await self._after_timeout()
            if "transaction id" in str(exc) or "device id" in str(exc):
                raise self._bad(f"reply to another request: {exc}") from None
            raise self._count(DeviceTimeout(f"no reply from unit {unit}")) from None
        except ConnectionException:
            self.close()
            raise self._count(LinkDown(f"link {self.id} lost")) from None
        except (ModbusException, OSError) as exc:
            self.close()
            raise self._bad(f"{type(exc).__name__}: {exc}") from None
        finally:
            self._asking = None
            rtt = time.monotonic() - start
            self.stats.last_rtt_s = rtt
            self.stats.rtt_sum_s += rtt
            self.stats.busy_s += rtt
        if reply is None:
            raise await self._flushed(self._bad("no reply object"))
        if getattr(reply, "dev_id", unit) not in (unit, 0):
            raise await self._flushed(self._bad(f"reply from unit {reply.dev_id}, asked {unit}"))
        if reply.isError():
            if reply.function_code != (function | 0x80):
                raise await self._flushed(self._bad(
                    f"exception for function {reply.function_code & 0x7F}, asked {function}"))
        elif reply.function_code != function:
            raise await self._flushed(self._bad(
                f"reply function {reply.function_code}, asked {function}"))
        return reply

    def _stale(self, request_len: int) -> bool:
        """True when the reply began before the wire could carry the request.

        The request must leave and the reply's first byte arrive: at least the
        request's frame time plus one character. Half of that allows for clock
        and driver jitter while still catching replies that were already in
        flight. Used only when a reply's shape cannot tell (module docstring):
        a simulator without wire time answers faster than any real line.
        """
        if not self._first_byte_at:
            return False
        floor = 0.5 * (request_len + 1) * self._char_s
        return self._first_byte_at - self._sent_at < floor

    async def _flushed(self, exc: LinkError) -> LinkError:
        """Let whatever is still in flight arrive and be discarded before the next request."""
        await self._after_timeout()
        return exc

    async def _after_timeout(self) -> None:
        """Reconnect TCP (stale transactions); on serial lines wait for t3.5 of silence.

        The wait ends at most one longest frame after it began, so a chattering
        line cannot hold the link; the signatures above keep it correct anyway.
        """
        if isinstance(self.config, TcpLink):
            self.close()
            return
        began = time.monotonic()
        limit = began + MAX_FRAME * self._char_s
        while True:
            quiet_until = max(self._last_rx_at, began) + self._t35
            now = time.monotonic()
            if now >= quiet_until or now >= limit:
                return
            await asyncio.sleep(min(quiet_until, limit) - now)

    def _bad(self, reason: str) -> BadReply:
        return self._count(BadReply(reason))

    def _count(self, exc: _E) -> _E:
        self.stats.errors[exc.kind] = self.stats.errors.get(exc.kind, 0) + 1
        return exc
