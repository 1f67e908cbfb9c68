"""The uplink: readings into the durable outbox, out to the broker, commands back in.

``outbox`` (SQLite, store-and-forward) and ``outbox_writer`` commit readings;
``publisher`` sends them and deletes a row only after its PUBACK; ``messages``
is the MQTT contract v1 (docs/mqtt.md); ``commands`` parses and checks an
operator's command (pure) and ``command_path`` carries it to the bus.
"""

from gateway.uplink.command_path import CommandHandler
from gateway.uplink.commands import CommandRefused, OperatorCommand, parse_command
from gateway.uplink.messages import VERSION, Topics, iso
from gateway.uplink.outbox import Outbox, Row
from gateway.uplink.outbox_writer import AsyncOutbox, OutboxWriter
from gateway.uplink.publisher import Publisher

__all__ = [
    "VERSION", "AsyncOutbox", "CommandHandler", "CommandRefused", "OperatorCommand", "Outbox",
    "OutboxWriter", "Publisher", "Row", "Topics", "iso", "parse_command",
]
