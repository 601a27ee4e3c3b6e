"""A small HTTP POST for the SMS and webhook channels (standard library; no redirects
followed; header names sent exactly as written)."""

import http.client
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

from alerts.channels.base import DeliveryError
from alerts.destination_guard import DestinationRefused, resolve_webhook_host

RETRYABLE_STATUS = {408, 425, 429}
USER_AGENT = "SecureFlow-Alerts/1.0"
ERROR_BODY_CHARS = 300


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """With `address`, connects there (resolved and checked beforehand), whatever the name
    resolves to by then; the Host header still names the host. Without, as usual."""

    def __init__(self, host: str, port: int | None, *, address: tuple[str, int] | None, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self) -> None:
        if self._address is None:
            super().connect()
        else:
            self.sock = socket.create_connection(self._address, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As _PinnedHTTPConnection, over TLS: the certificate is checked against the host name."""

    def __init__(self, host: str, port: int | None, *, address: tuple[str, int] | None, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self) -> None:
        if self._address is None:
            super().connect()
        else:
            sock = socket.create_connection(self._address, self.timeout)
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def http_post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    guard_destination: bool = False,
) -> HttpResponse:
    """POST and return a 2xx response; raise DeliveryError otherwise: retryable for network
    errors, timeouts, 5xx, 408, 425 and 429; permanent for other statuses (3xx included:
    alerts never follow a redirect).

    `guard_destination` (URLs that users typed in: webhooks): the host must resolve to
    addresses webhooks may reach (alerts/destination_guard.py), else a permanent error,
    and the connection goes to the address that was checked."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"Not an http(s) URL: {url}", permanent=True)
    default_port = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default_port
    except ValueError:
        raise DeliveryError(f"Not a valid port in {url}", permanent=True) from None
    address = None
    if guard_destination:
        try:
            address = resolve_webhook_host(parts.hostname, port)
        except DestinationRefused as refused:
            raise DeliveryError(f"Refused {url}: {refused}", permanent=True) from refused
        except OSError as exc:
            raise DeliveryError(f"Could not resolve {parts.hostname}: {exc}") from exc
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(
            parts.hostname,
            parts.port,
            address=address,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        connection = _PinnedHTTPConnection(
            parts.hostname, parts.port, address=address, timeout=timeout
        )
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.request(
            "POST",
            target,
            body=body,
            headers={"User-Agent": USER_AGENT, "Content-Length": str(len(body)), **headers},
        )
        response = connection.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"Could not reach {url}: {exc or type(exc).__name__}") from exc
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return HttpResponse(response.status, data, dict(response.getheaders()))
    detail = data[:ERROR_BODY_CHARS].decode("utf-8", "replace").strip()
    message = f"HTTP {response.status} from {url}" + (f": {detail}" if detail else "")
    permanent = response.status < 500 and response.status not in RETRYABLE_STATUS
    raise DeliveryError(message, permanent=permanent)
