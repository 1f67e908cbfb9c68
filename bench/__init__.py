"""Benchmarks: `make bench` (python -m bench).

A benchmark is a module `bench/bench_<name>.py` with a function

    def run() -> dict[str, float]: ...

returning its figures (throughput, latency, ...; say the unit in the key, e.g.
`publish_qos1_msg_per_s`). The runner runs the modules in name order, each in
a child process, within one time budget, and prints one line per figure,
`<name>.<key>: <value>`, on stdout. A benchmark that raises, returns something
else or runs past the budget prints `# <name>: error ...` on stderr; the others
still run, and the runner exits non-zero at the end.

Benchmarks that need a broker or a database start their own with
tests.services (Mosquitto, InfluxDB, VictoriaMetrics) on loopback ports, and
bound their loops in count and time.
"""

Figures = dict[str, float]
