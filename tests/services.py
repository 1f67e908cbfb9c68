"""The real services for tests: Mosquitto, InfluxDB 1.x, VictoriaMetrics.

They live in gateway/devservices.py because `make demo` starts the same
services on loopback; tests import them from here.
"""

from gateway.devservices import *  # noqa: F403
from gateway.devservices import __all__  # noqa: F401
