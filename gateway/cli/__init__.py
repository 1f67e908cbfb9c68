"""``escogw``: one module per verb (device, override, rules, energy), wired in ``main``."""

from gateway.cli.main import main

__all__ = ["main"]
