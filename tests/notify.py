"""What systemd would receive on $NOTIFY_SOCKET: a datagram socket the test binds."""

from __future__ import annotations

import socket
from pathlib import Path


class NotifySocket:
    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        #: every message drain() has collected, in order
        self.messages: list[str] = []

    def recv(self, timeout: float = 30.0) -> str:
        """The next message, waiting for it."""
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def drain(self) -> list[str]:
        """Collect what has arrived, without waiting."""
        self.sock.setblocking(False)
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def saw(self, text: str) -> bool:
        return any(text in m for m in self.drain())

    def close(self) -> None:
        self.sock.close()
