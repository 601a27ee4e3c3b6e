"""The address of the client behind a request, for sign-in limits and API rate limits.

Without a proxy in front (the default) it is the connection's address (`REMOTE_ADDR`);
`X-Forwarded-For` is ignored, since any client can send one. Proxies that each append the
address they received the request from are described in one of two ways:

- `SECUREFLOW_TRUSTED_PROXY_NETWORKS` (e.g. `10.0.0.0/8,fd00::/8`): the header is read only
  on a connection from one of these networks, and the client is the nearest address, from
  the right, outside them. A request that reached SecureFlow past the proxies has its
  header ignored. If every entry lies inside them, the client is the leftmost.
- `SECUREFLOW_TRUSTED_PROXIES` = N (used when no networks are set): the client is the N-th
  entry from the right; the entries left of it were written by the client and prove
  nothing. This trusts the header on every connection, so SecureFlow must be reachable
  only through the proxies.

An entry that is not an IP address, or a missing or short header, falls back to the
connection's address."""

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from rest_framework.request import Request

UNKNOWN = "unknown"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def trusted_proxies() -> int:
    return max(int(getattr(settings, "SECUREFLOW_TRUSTED_PROXIES", 0) or 0), 0)


@lru_cache(maxsize=8)
def parse_networks(
    values: tuple[str, ...], setting: str = "SECUREFLOW_TRUSTED_PROXY_NETWORKS"
) -> tuple[Network, ...]:
    """The networks of a setting such as `SECUREFLOW_TRUSTED_PROXY_NETWORKS`;
    ImproperlyConfigured names a value that is not an address or network."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting}: {value!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def trusted_networks() -> tuple[Network, ...]:
    values = getattr(settings, "SECUREFLOW_TRUSTED_PROXY_NETWORKS", None) or ()
    return parse_networks(tuple(value for value in values if value.strip()))


def client_address(request: HttpRequest | Request | None) -> str:
    if request is None:
        return UNKNOWN
    meta = request.META
    remote = meta.get("REMOTE_ADDR") or UNKNOWN
    networks = trusted_networks()
    proxies = trusted_proxies()
    forwarded = meta.get("HTTP_X_FORWARDED_FOR") if networks or proxies else None
    if not forwarded:
        return remote
    entries = [entry.strip() for entry in forwarded.split(",")]
    if networks:
        return _nearest_outside(remote, entries, networks)
    if len(entries) < proxies:  # fewer hops than proxies: the header was not theirs
        return remote
    address = _address(entries[-proxies])
    return str(address) if address is not None else remote


def _nearest_outside(remote: str, entries: Sequence[str], networks: Sequence[Network]) -> str:
    connection = _address(remote)
    if connection is None or not _inside(connection, networks):
        return remote  # not from a proxy: its header is the client's own
    client = connection
    for entry in reversed(entries):
        address = _address(entry)
        if address is None:
            return remote
        client = address
        if not _inside(address, networks):
            break
    return str(client)


def _address(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _inside(address: Address, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)
