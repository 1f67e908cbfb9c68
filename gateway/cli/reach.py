"""Where a link goes and, when nothing answered, why: for a one-line message that names
the device, the address (host:port or serial port) and the cause."""

from __future__ import annotations

import asyncio
import os

from gateway.core.site import RtuLink, RtuOverTcpLink, TcpLink
from gateway.i18n import _

LinkConfig = TcpLink | RtuLink | RtuOverTcpLink


def address(cfg: LinkConfig) -> str:
    """``host:port`` of a TCP link or serial server, the path of a serial port."""
    return cfg.device if isinstance(cfg, RtuLink) else f"{cfg.host}:{cfg.port}"


async def open_error(cfg: LinkConfig) -> str | None:
    """Why the link's address cannot be opened (None: it opens), in the user's language."""
    if isinstance(cfg, RtuLink):
        try:
            fd = os.open(cfg.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except FileNotFoundError:
            return _("no such serial port")
        except PermissionError:
            return _("permission denied (is the user in the dialout group?)")
        except OSError as exc:
            return exc.strerror or str(exc)
        os.close(fd)
        return None
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(cfg.host, cfg.port),
                                                 max(cfg.timeout_s, 1.0))
    except ConnectionRefusedError:
        return _("connection refused")
    except TimeoutError:
        return _("connection timed out after {seconds:g} s").format(
            seconds=max(cfg.timeout_s, 1.0))
    except OSError as exc:
        return exc.strerror or str(exc)
    writer.close()
    return None
