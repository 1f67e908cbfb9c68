"""The two InfluxDB write APIs behind one small interface.

``write(body)`` either returns (the database accepted every line), raises
``Rejected`` (HTTP 400/422: some line will never be accepted — the caller
isolates it) or ``TooLarge`` (HTTP 413: split and retry), or raises
``Unavailable`` (connection refused, timeout, 5xx, 429, and 401/403/404,
which an operator must fix: the data is kept and retried, never dropped).

- v1: ``POST {url}/write?db=&rp=&precision=ms`` with urllib3 directly
  (InfluxDB 1.x before 1.8 has nothing else; 2.x and 3.x keep it too).
- v2: ``POST {url}/api/v2/write`` through influxdb-client's synchronous
  WriteApi, given our pre-built line protocol (InfluxDB 1.8+, 2.x, 3.x,
  VictoriaMetrics).
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import urlencode

import urllib3

from gateway.historian.config import InfluxSettings


class SinkError(Exception):
    def __init__(self, kind: str, message: str, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.message = message


class Unavailable(SinkError):
    """Try again later: nothing was lost, nothing is acknowledged."""


class Rejected(SinkError):
    """HTTP 400/422: at least one line will never be accepted."""


class TooLarge(SinkError):
    """HTTP 413: the request body is over the server's limit."""


class Sink(Protocol):
    def write(self, body: bytes) -> None: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


def classify(status: int, message: str) -> SinkError:
    """The error for a non-2xx HTTP status."""
    if status in (400, 422):
        return Rejected("rejected", message, status)
    if status == 413:
        return TooLarge("too_large", message, status)
    if status >= 500 or status == 429:
        return Unavailable("server", message, status)
    return Unavailable("client", message, status)  # 401, 403, 404: configuration


def error_text(body: bytes | str | None) -> str:
    """The ``error``/``message`` of a JSON error body, else the body itself."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()[:2000]
    if isinstance(doc, dict):
        for key in ("error", "message"):
            if isinstance(doc.get(key), str):
                return str(doc[key])[:2000]
    return text.strip()[:2000]


class V1Sink:
    def __init__(self, settings: InfluxSettings):
        self.settings = settings
        self._url = settings.url.rstrip("/") + "/write"
        self._fields: dict[str, str] = {"db": settings.database or "", "precision": "ms"}
        if settings.retention_policy:
            self._fields["rp"] = settings.retention_policy
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else ""
            headers.update(urllib3.make_headers(basic_auth=f"{settings.username}:{password}"))
        self._headers = headers
        pool_args: dict[str, Any] = {}
        if settings.url.startswith("https://"):
            pool_args["cert_reqs"] = "CERT_REQUIRED" if settings.verify_tls else "CERT_NONE"
            if settings.ca_file is not None:
                pool_args["ca_certs"] = str(settings.ca_file)
        self._http = urllib3.PoolManager(
            num_pools=1, maxsize=1, retries=False,
            timeout=urllib3.Timeout(total=settings.timeout_s), **pool_args)
        self._target = f"{self._url}?{urlencode(self._fields)}"

    def describe(self) -> str:
        return f"v1 {self._url} db={self.settings.database}"

    def write(self, body: bytes) -> None:
        try:
            resp = self._http.request("POST", self._target, body=body, headers=self._headers,
                                      preload_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unavailable("unavailable", f"{type(exc).__name__}: {exc}") from None
        if 200 <= resp.status < 300:
            return
        raise classify(resp.status, error_text(resp.data))

    def close(self) -> None:
        self._http.clear()


class V2Sink:
    def __init__(self, settings: InfluxSettings):
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.settings = settings
        token = settings.token.get_secret_value() if settings.token else ""
        self._client = InfluxDBClient(
            url=settings.url, token=token, org=settings.org or "-",
            timeout=int(settings.timeout_s * 1000), verify_ssl=settings.verify_tls,
            ssl_ca_cert=str(settings.ca_file) if settings.ca_file else None)
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def describe(self) -> str:
        return f"v2 {self.settings.url} bucket={self.settings.bucket}"

    def write(self, body: bytes) -> None:
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            self._api.write(bucket=self.settings.bucket or "", org=self.settings.org or "-",
                            record=body,
                            # its "enum" is a class of str constants
                            write_precision=WritePrecision.MS)  # type: ignore[arg-type]
        except ApiException as exc:
            if not exc.status:  # no HTTP answer at all
                raise Unavailable("unavailable", str(exc)) from None
            raise classify(int(exc.status), error_text(exc.body) or str(exc.reason)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unavailable("unavailable", f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]


def open_sink(settings: InfluxSettings) -> Sink:
    return V1Sink(settings) if settings.api == "v1" else V2Sink(settings)
