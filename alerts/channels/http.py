"""A small HTTP POST for the SMS and webhook channels (standard library; no redirects
followed; header names sent exactly as written)."""

import http.client
import ssl
import urllib.parse
from dataclasses import dataclass

from alerts.channels.base import DeliveryError

RETRYABLE_STATUS = {408, 425, 429}
USER_AGENT = "SecureFlow-Alerts/1.0"
ERROR_BODY_CHARS = 300


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str]


def http_post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> HttpResponse:
    """POST and return a 2xx response; raise DeliveryError otherwise: retryable for network
    errors, timeouts, 5xx, 408, 425 and 429; permanent for other statuses (3xx included:
    alerts never follow a redirect)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"Not an http(s) URL: {url}", permanent=True)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
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
