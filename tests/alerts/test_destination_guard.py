"""Webhook destinations: no internal address unless an admin allows its network (SSRF)."""

import socket

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from alerts.channels.base import DeliveryError
from alerts.channels.http import http_post
from alerts.destinations import normalise_destination
from alerts.models import AlertSubscription

INTERNAL = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://127.0.0.1:9/siem",
    "http://localhost:8000/admin/",
    "http://api.localhost/",
    "http://[::1]:8080/",
    "http://[::ffff:10.0.0.5]/",
    "http://10.0.0.5/hook",
    "https://192.168.1.10/hook",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://0.0.0.0:8000/",
]


@pytest.fixture
def no_private_networks(settings):
    settings.SECUREFLOW_WEBHOOK_ALLOWED_NETWORKS = []
    return settings


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_when_saved(no_private_networks, url):
    with pytest.raises(ValidationError) as refused:
        normalise_destination("webhook", url)
    assert "SECUREFLOW_WEBHOOK_ALLOWED_NETWORKS" in refused.value.messages[0]


@pytest.mark.parametrize(
    "url", ["https://siem.example-bank.ae/hooks/fraud", "https://1.1.1.1/x", "http://8.8.8.8/"]
)
def test_public_destinations_and_host_names_are_kept(no_private_networks, url):
    assert normalise_destination("webhook", url) == url


def test_an_allowed_network_is_reachable(settings):
    settings.SECUREFLOW_WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert normalise_destination("webhook", "http://10.20.3.4/siem") == "http://10.20.3.4/siem"
    with pytest.raises(ValidationError):
        normalise_destination("webhook", "http://10.21.3.4/siem")


def test_an_investigator_cannot_subscribe_a_webhook_to_an_internal_address(
    no_private_networks, make_user
):
    client = Client()
    client.force_login(make_user("ivy"))
    response = client.post(
        "/alerts/subscriptions/new/",
        {
            "channel": "webhook",
            "destination": "http://169.254.169.254/latest/meta-data/",
            "min_risk": "0.5",
            "include_blocked": "on",
            "time_zone": "Asia/Dubai",
            "is_active": "on",
        },
    )
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["destination"])
    assert "169.254.169.254 is a link-local address" in errors
    assert not AlertSubscription.objects.exists()


def post(url: str) -> None:
    http_post(url, body=b"{}", headers={}, timeout=2, guard_destination=True)


def test_a_name_that_resolves_inside_is_refused_at_send_without_connecting(
    no_private_networks, http_server
):
    with pytest.raises(DeliveryError) as refused:
        post(f"http://localhost:{http_server.port}/hook")
    assert refused.value.permanent
    assert "localhost resolves to 127.0.0.1, a loopback address outside" in str(refused.value)
    assert http_server.to("/hook") == []


def test_dns_rebinding_cannot_move_the_connection(settings, http_server, monkeypatch):
    """The name is resolved once, checked, and the connection goes to that address: the
    Host header still names the host."""
    settings.SECUREFLOW_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    answers = iter(["127.0.0.1", "10.9.9.9"])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "hooks.example.test":
            return real(next(answers), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    post(f"http://hooks.example.test:{http_server.port}/hook")
    [received] = http_server.to("/hook")
    assert received.headers["Host"] == f"hooks.example.test:{http_server.port}"

    # the next send resolves again, to an address outside the allowed network: refused
    with pytest.raises(DeliveryError, match="resolves to 10.9.9.9, a private or reserved address"):
        post(f"http://hooks.example.test:{http_server.port}/hook")
    assert len(http_server.to("/hook")) == 1


def test_sms_gateways_configured_by_the_operator_are_not_guarded(no_private_networks, http_server):
    # SECUREFLOW_SMS_GATEWAY_URL comes from the environment, not from a user
    http_post(http_server.url("/sms"), body=b"{}", headers={}, timeout=2)
    assert len(http_server.to("/sms")) == 1
