"""The real services for tests: Mosquitto, InfluxDB 1.x, VictoriaMetrics.

They live in devkit/services.py because `make demo` starts the same
services on loopback; tests import them from here.
"""

from devkit.services import *  # noqa: F403
from devkit.services import __all__  # noqa: F401
