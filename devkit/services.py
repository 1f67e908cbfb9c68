"""Real Mosquitto, InfluxDB 1.x and VictoriaMetrics processes for tests and `make demo`.

Each service runs the Debian package's binary on a free loopback port, with its
configuration, data and log in a directory of its own, and is ready when
`start()` returns (readiness is polled, never slept for). `stop()` ends it and
keeps the port and the data, so a later `start()` brings back the same broker
or database, as an outage would. Used by the fixtures in tests/conftest.py, or
directly for a private instance::

    with Mosquitto(tmp_path / "broker") as broker:
        client.connect(broker.host, broker.port)

Only the standard library is used here (HTTP through urllib.request).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = [
    "HttpResponse",
    "InfluxDB",
    "Mosquitto",
    "Service",
    "ServiceError",
    "ServiceUnavailable",
    "VictoriaMetrics",
    "end_process",
    "find_binary",
    "free_port",
    "http_request",
]

LOOPBACK = "127.0.0.1"
# Where Debian puts the binaries; sbin may be missing from a non-root PATH.
_EXTRA_PATH = ("/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin")
# Live processes, killed at interpreter exit if a finalizer never ran.
_LIVE: set[Service] = set()
_LIVE_LOCK = threading.Lock()


class ServiceError(RuntimeError):
    """A service failed to start, died, or answered an HTTP call with an error."""


class ServiceUnavailable(ServiceError):
    """The service's binary is not installed; `package` names the Debian package."""

    def __init__(self, binary: str, package: str) -> None:
        super().__init__(
            f"{binary} not found: install the Debian package {package!r} "
            f"(apt-get install {package}, or run scripts/ensure-services as root)"
        )
        self.binary = binary
        self.package = package


_GIVEN: set[int] = set()


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on `host` right now, never the same twice in one process.

    Taken below the kernel's ephemeral range: binding to port 0 draws from that range,
    and so does every outgoing connection, so a port chosen that way could be taken by
    a client socket (a gateway dialling its broker) before the server that was meant to
    have it binds (seen in CI as EADDRINUSE).
    """
    low, high = _below_ephemeral()
    rng = random.SystemRandom()
    for _ in range(500):
        port = rng.randint(low, high)
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # a crowded machine
        s.bind((host, 0))
        chosen: int = s.getsockname()[1]
        return chosen


def _below_ephemeral() -> tuple[int, int]:
    try:
        first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first = 32768
    return (10_000, first - 1) if first > 12_000 else (first + 20_000, first + 25_000)


def find_binary(name: str) -> str | None:
    """Full path of `name` on PATH or in the usual Debian bin/sbin directories."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_PATH])
    return shutil.which(name, path=search)


class HttpResponse:
    """Status, headers and body of an HTTP exchange, whatever the status."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = dict(headers)
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HttpResponse(status={self.status}, body={self.body[:200]!r})"


def http_request(
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    data: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> HttpResponse:
    """One HTTP request with urllib; HTTP error statuses are returned, not raised.

    Connection errors (refused, reset, timeout) raise OSError.
    """
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params)}"
    body = data.encode() if isinstance(data, str) else data
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return HttpResponse(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as e:
        with e:
            return HttpResponse(e.code, dict(e.headers.items()), e.read())


# Resolved here, in the parent: the forked child (which may come from a process
# with threads) only calls it, taking no loader or import locks.
_PR_SET_PDEATHSIG = 1
try:
    _prctl: Any = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux/glibc
    _prctl = None


def end_process(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """SIGTERM and wait up to ``timeout`` s, then SIGKILL (at once when ``timeout`` is 0).
    True when the process ended on SIGTERM."""
    if proc.poll() is not None:
        return True
    if timeout > 0:
        proc.terminate()
        try:
            proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    proc.wait(5)
    return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """preexec_fn: SIGKILL the child when the thread that started it dies."""
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _kill_all_live() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for svc in live:
        with contextlib.suppress(Exception):
            svc.stop(kill=True)


atexit.register(_kill_all_live)


class Service:
    """One server process on a fixed loopback port with a persistent work dir.

    Subclasses set `binary`/`package` and implement `_command()` and `_ready()`.
    The port is chosen once (free at construction) and kept across restarts;
    the data lives under `workdir` until the directory is removed.
    """

    name: ClassVar[str] = "service"
    binary: ClassVar[str] = ""
    package: ClassVar[str] = ""
    start_timeout: ClassVar[float] = 30.0

    def __init__(self, workdir: Path | str, *, port: int | None = None) -> None:
        path = find_binary(self.binary)
        if path is None:
            raise ServiceUnavailable(self.binary, self.package)
        self.binary_path: str = path
        self.host: str = LOOPBACK
        self.port: int = port if port is not None else free_port()
        self.workdir: Path = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path: Path = self.workdir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()
        self.starts: int = 0

    # -- lifecycle ---------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the process started by `start()` is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self, timeout: float | None = None) -> None:
        """Start the process (same port, same data) and wait until it serves.

        No-op when already running. Raises ServiceError with the log's tail if the
        process exits or is not ready within `timeout` seconds.
        """
        with self._lock:
            if self.running:
                return
            self._prepare()
            argv = self._command()
            # The log is appended to, so a restart's output follows the last run's.
            with open(self.log_path, "ab") as log:
                log.write(f"\n=== start {self.starts + 1}: {' '.join(argv)}\n".encode())
                log.flush()
                on_main = threading.current_thread() is threading.main_thread()
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    # Not in our process group: a terminal's Ctrl-C reaches only us,
                    # and we stop the services in order (the historian flushes first).
                    start_new_session=True,
                    # Die with pytest even if it is killed; only from the main
                    # thread, since the signal follows the starting *thread*.
                    preexec_fn=_die_with_parent if on_main and _prctl is not None else None,
                )
            self.starts += 1
            with _LIVE_LOCK:
                _LIVE.add(self)
            self._wait_ready(self.start_timeout if timeout is None else timeout)

    def stop(self, timeout: float = 15.0, *, kill: bool = False) -> None:
        """End the process: SIGTERM and wait (SIGKILL after `timeout`), or SIGKILL
        at once with `kill=True` (a crash: no shutdown work). Keeps port and data.
        No-op when not running."""
        with self._lock:
            proc, self._proc = self._proc, None
            with _LIVE_LOCK:
                _LIVE.discard(self)
            if proc is None or proc.poll() is not None:
                return
            end_process(proc, 0.0 if kill else timeout)
            self._wait_port_closed(5.0)

    def restart(self, timeout: float | None = None) -> None:
        self.stop()
        self.start(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the service's log (stdout and stderr)."""
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.host}:{self.port} {state} {self.workdir}>"

    # -- for subclasses ----------------------------------------------------

    def _prepare(self) -> None:
        """Write configuration files before each start."""

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        """One readiness probe; False (or OSError) means not yet."""
        raise NotImplementedError

    # -- internals ---------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.01
        last_error: Exception | None = None
        while True:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                self._proc = None
                with _LIVE_LOCK:
                    _LIVE.discard(self)
                raise ServiceError(
                    f"{self.name} exited with status {code} while starting; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if self._ready():
                    return
            except OSError as e:
                last_error = e
            if time.monotonic() >= deadline:
                self.stop(kill=True)
                raise ServiceError(
                    f"{self.name} not ready on {self.host}:{self.port} after {timeout:.0f} s "
                    f"(last error: {last_error!r}); log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _wait_port_closed(self, timeout: float) -> None:
        """After stop, wait until nothing accepts on the port any more."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    pass
            except OSError:
                return
            time.sleep(0.05)


class _HttpService(Service):
    health_path: ClassVar[str] = "/health"

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:41234 (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> HttpResponse:
        return http_request(
            method, self.url + path, params=params, data=data, headers=headers, timeout=timeout
        )

    def _ready(self) -> bool:
        resp = http_request("GET", self.url + self.health_path, timeout=1.0)
        return 200 <= resp.status < 300


class Mosquitto(Service):
    """Mosquitto 2.x: anonymous MQTT on `host:port`, persistence in `workdir`.

    Settings follow research/pipeline-ops.md: `set_tcp_nodelay true` (windowed
    QoS1 stalls ~40 ms per window without it) and an in-flight limit above the
    historian's batch. Persistent sessions and retained messages survive
    `stop()`/`start()` (saved on SIGTERM); `stop(kill=True)` is a crash and
    loses what was not autosaved yet (`autosave_interval` seconds, Mosquitto's
    default 1800; pass 1 for a broker that loses at most a second).
    """

    name = "mosquitto"
    binary = "mosquitto"
    package = "mosquitto"
    #: a broker that answers an anonymous CONNECT with "not authorised" is up too
    refuses_anonymous = False

    def __init__(
        self,
        workdir: Path | str,
        *,
        port: int | None = None,
        max_inflight_messages: int = 1000,
        max_queued_messages: int = 100_000,
        autosave_interval: int = 1800,
        extra_config: Iterable[str] = (),
    ) -> None:
        super().__init__(workdir, port=port)
        self.config_path: Path = self.workdir / "mosquitto.conf"
        self.data_dir: Path = self.workdir / "data"
        self.max_inflight_messages = max_inflight_messages
        self.max_queued_messages = max_queued_messages
        self.autosave_interval = autosave_interval
        self.extra_config = list(extra_config)

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [*self._access_lines(), *self._common_lines()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def _access_lines(self) -> list[str]:
        """Listeners and who may connect: one anonymous loopback listener."""
        return [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "set_tcp_nodelay true",
            f"max_inflight_messages {self.max_inflight_messages}",
            f"max_queued_messages {self.max_queued_messages}",
        ]

    def _common_lines(self) -> list[str]:
        lines = [
            "persistence true",
            f"persistence_location {self.data_dir}/",
            f"autosave_interval {self.autosave_interval}",
            # Its own log (flushed per line) joins the captured stdout/stderr.
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if os.geteuid() == 0:
            # As root Mosquitto drops to the `mosquitto` user, which cannot
            # write into our 0700 temp dir; "root" keeps the privileges.
            lines.append("user root")
        return lines + self.extra_config

    def _command(self) -> list[str]:
        return [self.binary_path, "-c", str(self.config_path)]

    def _ready(self) -> bool:
        """A full MQTT 3.1.1 CONNECT/CONNACK round trip, then DISCONNECT."""
        with socket.create_connection((self.host, self.port), timeout=1.0) as s:
            client_id = b"ready-probe"
            var_header = b"\x00\x04MQTT\x04\x02\x00\x0a"  # v3.1.1, clean session, keepalive 10
            payload = len(client_id).to_bytes(2, "big") + client_id
            body = var_header + payload
            s.sendall(bytes([0x10, len(body)]) + body)
            ack = b""
            while len(ack) < 4:
                chunk = s.recv(4 - len(ack))
                if not chunk:
                    return False
                ack += chunk
            s.sendall(b"\xe0\x00")  # DISCONNECT
            return ack == b"\x20\x02\x00\x00" or (self.refuses_anonymous
                                                  and ack == b"\x20\x02\x00\x05")


class InfluxDB(_HttpService):
    """InfluxDB 1.x (Debian's `influxd` 1.6): v1 API `/write?db=`, `/query`.

    Every listener is on a loopback port of its own (HTTP `port`, RPC
    `rpc_port`); meta, data and WAL under `workdir`; no usage reporting and no
    `_internal` monitor database. No database exists until created.
    """

    name = "influxdb"
    binary = "influxd"
    package = "influxdb"
    health_path = "/ping"

    def __init__(self, workdir: Path | str, *, port: int | None = None) -> None:
        super().__init__(workdir, port=port)
        self.rpc_port: int = free_port()
        self.config_path: Path = self.workdir / "influxdb.conf"

    def _prepare(self) -> None:
        w = self.workdir
        self.config_path.write_text(
            f"""\
# Upstream 1.x spells it reporting-disabled; Debian's build reporting-enabled.
reporting-disabled = true
reporting-enabled = false
bind-address = "{self.host}:{self.rpc_port}"

[meta]
  dir = "{w / "meta"}"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "{w / "data"}"
  wal-dir = "{w / "wal"}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[ifql]
  enabled = false
  bind-address = "{self.host}:{free_port()}"

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  log-enabled = false
"""
        )

    def _command(self) -> list[str]:
        return [self.binary_path, "run", "-config", str(self.config_path)]

    # -- v1 API helpers ----------------------------------------------------

    def query(
        self, q: str, db: str | None = None, *, epoch: str | None = None, post: bool | None = None
    ) -> Any:
        """Run InfluxQL via /query and return the decoded JSON.

        Statements that change something (CREATE, DROP, ...) go as POST, SELECT
        and SHOW as GET, unless `post` says otherwise. Raises ServiceError on an
        HTTP error or an `error` in any statement's result.
        """
        params = {"q": q}
        if db is not None:
            params["db"] = db
        if epoch is not None:
            params["epoch"] = epoch
        if post is None:
            post = not q.lstrip().upper().startswith(("SELECT", "SHOW"))
        resp = self.request("POST" if post else "GET", "/query", params=params)
        if resp.status != 200:
            raise ServiceError(f"influxdb /query {q!r}: HTTP {resp.status} {resp.text}")
        result = resp.json()
        errors = [r["error"] for r in result.get("results", []) if "error" in r]
        if "error" in result:
            errors.append(result["error"])
        if errors:
            raise ServiceError(f"influxdb /query {q!r}: {'; '.join(errors)}")
        return result

    def create_database(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"')

    def write(self, lines: str | Iterable[str], db: str, *, precision: str = "ns") -> None:
        """POST line protocol to /write?db=…; raises ServiceError unless 204."""
        body = lines if isinstance(lines, str) else "\n".join(lines)
        resp = self.request("POST", "/write", params={"db": db, "precision": precision}, data=body)
        if resp.status != 204:
            raise ServiceError(f"influxdb /write db={db}: HTTP {resp.status} {resp.text}")

    def points(self, q: str, db: str) -> list[dict[str, Any]]:
        """Rows of a SELECT as dicts (column -> value), all series concatenated;
        tags of GROUP BY series are merged into each row."""
        rows: list[dict[str, Any]] = []
        for result in self.query(q, db).get("results", []):
            for series in result.get("series", []):
                cols = series["columns"]
                tags = series.get("tags", {})
                for values in series["values"]:
                    rows.append({**tags, **dict(zip(cols, values, strict=True))})
        return rows


class VictoriaMetrics(_HttpService):
    """VictoriaMetrics single node (Debian's `victoria-metrics` 1.79).

    Accepts the InfluxDB v2 write API at `/api/v2/write` (influxdb-client's
    `url=` is `self.url`), line protocol at `/write`, and reads through
    `/api/v1/export` and `/api/v1/query`. A line `m,tag=v f=1` becomes the
    series `m_f{tag="v"}`; `/api/v2/write` ignores org and bucket (1.79), while
    `/write?db=x` adds the label `db="x"`. Written data is searchable only after
    a flush (about a second otherwise): `export()` and `query()` flush first.
    `-search.latencyOffset=0s` and `-search.disableCache` keep just-written
    points visible to queries.
    """

    name = "victoria-metrics"
    binary = "victoria-metrics"
    package = "victoria-metrics"
    health_path = "/health"

    def __init__(
        self,
        workdir: Path | str,
        *,
        port: int | None = None,
        retention_period: str = "100y",
        extra_args: Iterable[str] = (),
    ) -> None:
        super().__init__(workdir, port=port)
        self.data_dir: Path = self.workdir / "data"
        self.retention_period = retention_period
        self.extra_args = list(extra_args)

    def _command(self) -> list[str]:
        return [
            self.binary_path,
            f"-httpListenAddr={self.host}:{self.port}",
            f"-storageDataPath={self.data_dir}",
            f"-retentionPeriod={self.retention_period}",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=WARN",
            *self.extra_args,
        ]

    def flush(self) -> None:
        """Make everything written so far searchable (/internal/force_flush)."""
        resp = self.request("GET", "/internal/force_flush")
        if resp.status != 200:
            raise ServiceError(f"victoria-metrics force_flush: HTTP {resp.status} {resp.text}")

    def export(
        self, match: str = '{__name__!=""}', *, start: str = "0", end: str | None = None
    ) -> list[dict[str, Any]]:
        """Raw samples of the series matching `match` via /api/v1/export, after
        a flush: one dict per series, {"metric": {...}, "values": [...],
        "timestamps": [ms, ...]}. The range defaults to all time up to a year
        ahead (VictoriaMetrics' own default end, "now", can hide the newest second)."""
        self.flush()
        if end is None:
            end = str(int(time.time()) + 366 * 86400)
        resp = self.request(
            "GET", "/api/v1/export", params={"match[]": match, "start": start, "end": end}
        )
        if resp.status != 200:
            raise ServiceError(f"victoria-metrics export: HTTP {resp.status} {resp.text}")
        return [json.loads(line) for line in resp.text.splitlines() if line.strip()]

    def query(self, q: str, **params: str) -> Any:
        """An instant PromQL/MetricsQL query via /api/v1/query (after a flush);
        returns `data` of the response."""
        self.flush()
        resp = self.request("GET", "/api/v1/query", params={"query": q, **params})
        if resp.status != 200:
            raise ServiceError(f"victoria-metrics query {q!r}: HTTP {resp.status} {resp.text}")
        body = resp.json()
        if body.get("status") != "success":
            raise ServiceError(f"victoria-metrics query {q!r}: {body}")
        return body["data"]
