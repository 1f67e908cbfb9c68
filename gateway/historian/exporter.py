"""The historian's Prometheus metrics, in a registry of its own (one per historian).

| metric | meaning |
|---|---|
| escogw_historian_messages_total{result} | messages by outcome: written, rejected (the database refused its line), bad (payload can never be valid), ignored (topic not stored) |
| escogw_historian_points_written_total | lines the database accepted |
| escogw_historian_write_errors_total{kind} | failed write requests: unavailable, server, client, rejected, too_large |
| escogw_historian_rejected_lines_total | lines refused for good (logged with the line) |
| escogw_historian_lag_seconds | now − the newest reading time written |
| escogw_historian_pending_messages | received, not yet acknowledged |
| escogw_historian_backpressure | 1 while the pending limit holds the MQTT network thread |
| escogw_historian_mqtt_connected | 1 while connected to the broker |
| escogw_historian_silence_alarm | 1 when connected but silent for longer than silence_alarm_s |
"""  # noqa: E501

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

MESSAGE_RESULTS = ("written", "rejected", "bad", "ignored")
ERROR_KINDS = ("unavailable", "server", "client", "rejected", "too_large")


class HistorianMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter("escogw_historian_messages_total",
                                "MQTT messages by outcome", ["result"], registry=r)
        self.points_written = Counter("escogw_historian_points_written_total",
                                      "Points (lines) the database accepted", registry=r)
        self.write_errors = Counter("escogw_historian_write_errors_total",
                                    "Failed write requests by kind", ["kind"], registry=r)
        self.rejected_lines = Counter("escogw_historian_rejected_lines_total",
                                      "Lines the database refused for good", registry=r)
        self.lag = Gauge("escogw_historian_lag_seconds",
                         "Now minus the newest reading time written", registry=r)
        self.pending = Gauge("escogw_historian_pending_messages",
                             "Messages received and not yet acknowledged", registry=r)
        self.backpressure = Gauge("escogw_historian_backpressure",
                                  "1 while the pending limit holds the MQTT thread", registry=r)
        self.connected = Gauge("escogw_historian_mqtt_connected",
                               "1 while connected to the broker", registry=r)
        self.silence = Gauge("escogw_historian_silence_alarm",
                             "1 when connected but no message arrived for too long", registry=r)
        # Every label value exists from the start, so dashboards and alerts see zeros.
        for result in MESSAGE_RESULTS:
            self.messages.labels(result)
        for kind in ERROR_KINDS:
            self.write_errors.labels(kind)

    def snapshot(self) -> dict[str, float]:
        """Current values, flat: ``escogw_historian_messages_total{result="written"}`` →
        ``messages_written``, ``escogw_historian_points_written_total`` → ``points_written``."""
        out: dict[str, float] = {}
        for metric in self.registry.collect():
            for sample in metric.samples:
                if not sample.name.endswith("_created"):
                    out[flat_name(sample.name, sample.labels)] = sample.value
        return out


def flat_name(name: str, labels: dict[str, str]) -> str:
    name = name.removeprefix("escogw_historian_").removesuffix("_total")
    return "_".join([name, *labels.values()])
