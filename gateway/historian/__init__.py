"""The historian: MQTT → InfluxDB with nothing lost (``escogw historian --config FILE``).

See docs/historian.md for the design (acknowledge after the write, the pending
bound, retries, shared subscriptions) and the InfluxDB schema.
"""

from gateway.historian.config import HistorianSettings, load_settings
from gateway.historian.service import Historian, topic_filters

__all__ = ["Historian", "HistorianSettings", "load_settings", "topic_filters"]
