"""Links to lines of DL/T 645-2007 and CJ/T 188-2004 meters (implements link.Link).

A meter is known to the scheduler by its address as a number (``Device.unit``)
and a point by its data identifier (``Point.address``; CJ/T 188: meter type
<< 16 | DI), so the scheduler's queue, back-off and isolation serve meters as
they serve Modbus units. Each request throws away what is left of earlier
exchanges, then listens until the reply that answers it: a frame from another
address or for another DI (a late reply, another meter) is passed over, a
frame whose checksum fails is counted, an error reply is the meter's answer.
The wait is the wire time of both frames at the line's baud rate plus the
link's timeout for the meter to turn round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from serial import SerialException

from gateway.acquisition.address_search import Heard
from gateway.acquisition.bus_budget import char_time_s
from gateway.acquisition.byte_pipe import BytePipe, SerialPipe, TcpPipe
from gateway.acquisition.link import (
    BadReply,
    ConfiguredLink,
    DeviceException,
    DeviceTimeout,
    LinkDown,
    Probe,
    ShortReply,
)
from gateway.core import cjt188, dlt645
from gateway.core.meterframe import WAKE, Layout, ReplyError, scan
from gateway.core.site import RtuLink, RtuOverTcpLink

log = logging.getLogger("escogw.link")

#: Modbus exception codes the scheduler and planner already act on.
NO_SUCH_POINT = 0x02  # the planner disables the point
DEVICE_FAILURE = 0x04  # counts toward offline


class MeterError(DeviceException):
    """A meter's error reply, carried as the Modbus code the scheduler acts on."""

    def __init__(self, code: int, reason: str):
        super().__init__(code)
        self.args = (f"exception {code:02X}: {reason}",)


class Checker:
    """Turns the frames heard after one request into its answer."""

    def __init__(self, layout: Layout, check: Callable[[bytes], bytes]):
        self.layout = layout
        self.check = check


class MeterLink(ConfiguredLink[RtuLink | RtuOverTcpLink]):
    #: the scheduler keeps the profile's gap between our frames
    keeps_gaps = True

    def __init__(self, link_id: str, config: RtuLink | RtuOverTcpLink,
                 pipe: BytePipe | None = None):
        super().__init__(link_id, config)
        self._char_s = char_time_s(config.baudrate, config.parity, config.stopbits,
                                   config.bytesize)
        if pipe is not None:
            self._pipe = pipe
        elif isinstance(config, RtuOverTcpLink):
            self._pipe = TcpPipe(config.host, config.port, max(config.timeout_s, 1.0))
        else:
            self._pipe = SerialPipe(config.device, config.baudrate, config.parity,
                                    config.stopbits, config.bytesize)
        self._ser = 0

    def in_sync(self, unit: int) -> bool:
        return True  # every reply names its meter and DI: a late one cannot pass for another

    async def connect(self) -> bool:
        if self._pipe.is_open:
            return True
        try:
            await self._pipe.open()
        except (OSError, SerialException, TimeoutError) as exc:
            log.debug("link %s: open failed: %s", self.id, exc)
            self._pipe.close()
            return False
        return True

    def close(self) -> None:
        self._pipe.close()

    async def write(self, unit: int, table: str, address: int, values: list[int]) -> None:
        raise ValueError("meter points are read-only")

    async def read(self, unit: int, table: str, address: int, count: int,
                   probes: Sequence[Probe] = ()) -> list[int]:
        """The ``count`` value bytes of DI ``address`` of meter ``unit`` (``table``:
        "dlt645" or "cjt188"), as ints 0..255, BCD still packed."""
        if table == "dlt645":
            meter = dlt645.digits(unit)
            request = dlt645.read_data(meter, address)
            reply_bytes = dlt645.read_reply_bytes(count)
            checker = Checker(dlt645.LAYOUT,
                              lambda raw: dlt645.data_of(dlt645.decode(raw), meter, address))
        elif table == "cjt188":
            meter = cjt188.digits(unit)
            kind, di = address >> 16, address & 0xFFFF
            self._ser = ser = (self._ser + 1) & 0xFF
            request = cjt188.read_data(kind, meter, di, ser)
            reply_bytes = cjt188.read_reply_bytes(count)
            checker = Checker(cjt188.LAYOUT, lambda raw: cjt188.data_of(
                cjt188.decode(raw), kind, meter, di, ser))
        else:
            raise ValueError(f"a meter line reads DL/T 645 or CJ/T 188 points, not {table}")
        data = await self._exchange(unit, request, reply_bytes, checker)
        if len(data) < count:
            raise self.stats.count(ShortReply(f"{len(data)} data bytes, expected {count}"))
        return list(data[:count])

    async def who_answers(self, table: str, pattern: str, meter_type: int = 0) -> Heard:
        """Ask every meter whose address matches ``pattern`` (AA bytes: any) for its
        address, and listen until the line has had time for one reply (discovery)."""
        if table == "dlt645":
            request = dlt645.read_address(pattern)
            layout, reply_bytes = dlt645.LAYOUT, dlt645.address_reply_bytes()

            def parse(raw: bytes) -> str:
                return dlt645.address_of(dlt645.decode(raw))
        else:
            self._ser = ser = (self._ser + 1) & 0xFF
            request = cjt188.read_address(meter_type, ser, pattern)
            layout, reply_bytes = cjt188.LAYOUT, cjt188.address_reply_bytes()

            def parse(raw: bytes) -> str:
                return cjt188.found_address(cjt188.decode(raw), meter_type)
        if not await self.connect():
            raise self.stats.count(LinkDown(f"link {self.id} is not connected"))
        self.stats.requests += 1
        deadline = time.monotonic() + self.wire_s(len(request) + reply_bytes) + self.timeout_s
        found: list[str] = []
        garbled = False
        try:
            self._pipe.drop_input()
            self._pipe.write(request)
            heard = b""
            while chunk := await self._pipe.read(deadline):
                heard += chunk
                while True:
                    scanned = scan(heard, layout)
                    frame_at = scanned.used - len(scanned.frame or b"")
                    # anything but wake-up bytes outside a valid frame: answers collided
                    garbled |= bool(scanned.skipped) or any(b != WAKE for b in heard[:frame_at])
                    heard = heard[scanned.used:]
                    if scanned.frame is None:
                        break
                    try:
                        found.append(parse(scanned.frame))
                    except ReplyError:
                        garbled = True
        except OSError as exc:
            self.close()
            raise self.stats.count(LinkDown(f"link {self.id} lost: {exc}")) from None
        garbled |= any(b != WAKE for b in heard)  # the start of a frame that never ended
        return Heard(tuple(dict.fromkeys(found)), garbled)

    def wire_s(self, nbytes: int) -> float:
        return nbytes * self._char_s

    async def _exchange(self, unit: int, request: bytes, reply_bytes: int,
                        checker: Checker) -> bytes:
        if not await self.connect():
            raise self.stats.count(LinkDown(f"link {self.id} is not connected"))
        self.stats.requests += 1
        start = time.monotonic()
        deadline = start + self.wire_s(len(request) + reply_bytes) + self.timeout_s
        passed_over: list[str] = []
        try:
            self._pipe.drop_input()  # left over from an earlier exchange, or noise
            self._pipe.write(request)
            heard = b""
            while True:
                chunk = await self._pipe.read(deadline)
                if not chunk:
                    break
                heard += chunk
                while True:
                    found = scan(heard, checker.layout)
                    passed_over.extend(found.skipped)
                    heard = heard[found.used:]
                    if found.frame is None:
                        break
                    try:
                        return checker.check(found.frame)
                    except (dlt645.ErrorReply, cjt188.ErrorReply) as exc:
                        code = NO_SUCH_POINT if isinstance(exc, dlt645.ErrorReply) and \
                            exc.code & dlt645.NO_DATA else DEVICE_FAILURE
                        raise self.stats.count(MeterError(code, str(exc))) from None
                    except ReplyError as exc:
                        passed_over.append(str(exc))
        except OSError as exc:
            self.close()
            raise self.stats.count(LinkDown(f"link {self.id} lost: {exc}")) from None
        finally:
            self.stats.exchanged(start)
        if passed_over:
            raise self.stats.count(BadReply(f"no valid reply from meter {unit}: "
                                            f"{'; '.join(dict.fromkeys(passed_over))}"))
        raise self.stats.count(DeviceTimeout(f"no reply from meter {unit}"))
