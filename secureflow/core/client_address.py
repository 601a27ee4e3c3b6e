"""The address of the client behind a request, for sign-in limits and API rate limits.

Without a proxy in front (`SECUREFLOW_TRUSTED_PROXIES` = 0, the default) it is the
connection's address (`REMOTE_ADDR`); `X-Forwarded-For` is ignored, since any client can
send one. Behind N proxies that each append the address they received the request from,
the client is the N-th entry from the right of `X-Forwarded-For`: the entries left of it
were written by the client and prove nothing. An entry that is not an IP address, or a
missing header, falls back to the connection's address."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request

UNKNOWN = "unknown"


def trusted_proxies() -> int:
    return max(int(getattr(settings, "SECUREFLOW_TRUSTED_PROXIES", 0) or 0), 0)


def client_address(request: HttpRequest | Request | None) -> str:
    if request is None:
        return UNKNOWN
    meta = request.META
    remote = meta.get("REMOTE_ADDR") or UNKNOWN
    proxies = trusted_proxies()
    forwarded = meta.get("HTTP_X_FORWARDED_FOR") if proxies else None
    if not forwarded:
        return remote
    entries = [entry.strip() for entry in forwarded.split(",")]
    if len(entries) < proxies:  # fewer hops than proxies: the header was not theirs
        return remote
    candidate = entries[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
