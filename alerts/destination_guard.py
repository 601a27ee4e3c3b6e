"""Where webhook alerts may go: addresses on the public internet, and the private networks
an admin allows (`SECUREFLOW_WEBHOOK_ALLOWED_NETWORKS`, e.g. the bank's SIEM at
`10.20.0.0/16`).

A webhook URL is typed in by an investigator (a subscription) or an admin (a rule), and the
worker POSTs customer data to it. Unchecked, it could point the worker at the bank's own
internal services, the machine itself or a cloud metadata endpoint (server-side request
forgery), with the first bytes of their answer kept in the delivery's error. So:

- when a destination is saved, an IP address or `localhost` outside the allowed networks
  is refused (`check_webhook_host`);
- when it is sent, the host name is resolved, every address must be public or allowed
  (`resolve_webhook_host`), and the connection goes to an address that was checked, so a
  name that resolves differently a moment later (DNS rebinding) cannot slip through.
"""

import ipaddress
import socket

from django.conf import settings
from django.core.exceptions import ValidationError

from secureflow.core.client_address import Address, Network, parse_networks

SETTING = "SECUREFLOW_WEBHOOK_ALLOWED_NETWORKS"
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class DestinationRefused(Exception):
    """The destination is, or resolves to, an address webhooks may not reach."""


def allowed_networks() -> tuple[Network, ...]:
    values = getattr(settings, SETTING, None) or ()
    return parse_networks(tuple(value for value in values if value.strip()), SETTING)


def _kind(address: Address) -> str:
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    return "a private or reserved address"


def address_refusal(address: Address) -> str | None:
    """Why webhooks may not reach `address` (None when they may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed_networks()):
        return None
    if address.is_global and not address.is_multicast:
        return None
    return f"{_kind(address)} outside {SETTING}"


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def check_webhook_host(host: str) -> None:
    """At save time: refuse an IP address or a local name webhooks may not reach (a host
    name is checked again, resolved, at every send)."""
    name = host.strip("[]").rstrip(".").lower()
    address = _literal(name)
    if address is None and (name in LOCAL_NAMES or name.endswith(".localhost")):
        address = ipaddress.ip_address("127.0.0.1")
    if address is not None:
        refusal = address_refusal(address)
        if refusal:
            raise ValidationError(f"Webhooks may not be sent to {host}: {address} is {refusal}.")


def resolve_webhook_host(host: str, port: int) -> tuple[str, int]:
    """At send time: the (address, port) to connect to, after checking every address the
    name resolves to. Raises DestinationRefused, or OSError when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    checked: list[tuple[str, int]] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        refusal = address_refusal(address)
        if refusal:
            raise DestinationRefused(f"{host} resolves to {address}, {refusal}")
        checked.append((str(sockaddr[0]), int(sockaddr[1])))
    if not checked:
        raise OSError(f"{host} did not resolve to any address")
    return checked[0]
