"""The client's address behind zero or more proxies (sign-in limits, API rate limits)."""

import os
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from rest_framework.request import Request

from secureflow.core import roles
from secureflow.core.client_address import client_address
from secureflow.core.throttles import ClientRateThrottle
from tests.core.test_settings_and_admin import manage_check
from tests.core.test_sign_in_limits import LOCKED_TEXT

PROXY = "10.0.0.5"


def address_of(remote: str = PROXY, forwarded: str | None = None) -> str:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **extra))


def test_without_proxies_x_forwarded_for_is_ignored():
    assert address_of("203.0.113.7") == "203.0.113.7"
    assert address_of("203.0.113.7", forwarded="198.51.100.1") == "203.0.113.7"
    assert client_address(None) == "unknown"


def test_behind_one_proxy_the_client_is_the_entry_the_proxy_wrote(settings):
    settings.SECUREFLOW_TRUSTED_PROXIES = 1
    assert address_of(forwarded="198.51.100.1") == "198.51.100.1"
    # what the client wrote itself, left of the proxy's entry, counts for nothing
    assert address_of(forwarded="1.1.1.1, 2.2.2.2,198.51.100.1") == "198.51.100.1"
    assert address_of(forwarded="2001:DB8::1") == "2001:db8::1"


def test_behind_two_proxies_the_client_is_the_second_entry_from_the_right(settings):
    settings.SECUREFLOW_TRUSTED_PROXIES = 2
    assert address_of(forwarded="6.6.6.6, 198.51.100.1, 10.0.0.9") == "198.51.100.1"


@pytest.mark.parametrize("forwarded", [None, "", "not-an-address", "198.51.100.1, junk"])
def test_a_missing_short_or_garbled_header_falls_back_to_the_connection(settings, forwarded):
    settings.SECUREFLOW_TRUSTED_PROXIES = 1
    assert address_of(forwarded=forwarded) == PROXY


def test_fewer_entries_than_proxies_fall_back_to_the_connection(settings):
    settings.SECUREFLOW_TRUSTED_PROXIES = 3
    assert address_of(forwarded="198.51.100.1, 10.0.0.9") == PROXY


def test_api_rate_limits_count_anonymous_clients_by_the_same_address(settings):
    request = Request(RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="9.9.9.9"))
    throttle = ClientRateThrottle()
    assert throttle.client_key(request) == f"a{PROXY}"  # no proxy configured: not spoofable
    settings.SECUREFLOW_TRUSTED_PROXIES = 1
    assert throttle.client_key(request) == "a9.9.9.9"


def _sign_in(username: str, password: str, forwarded: str):
    return Client().post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "proxy_setting",
    [("SECUREFLOW_TRUSTED_PROXIES", 1), ("SECUREFLOW_TRUSTED_PROXY_NETWORKS", ["10.0.0.0/8"])],
)
def test_behind_a_proxy_one_guessing_client_does_not_lock_the_others(
    settings, make_user, proxy_setting
):
    setattr(settings, *proxy_setting)
    settings.SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS = 4
    user = make_user(f"inv-{uuid.uuid4().hex[:8]}", roles.INVESTIGATOR)
    guesser = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    for i in range(4):
        _sign_in(f"guess-{i}-{uuid.uuid4().hex[:6]}", "wrong", guesser)
    password = f"pw-{user.username}-123!"
    assert LOCKED_TEXT.encode() in _sign_in(user.username, password, guesser).content
    # a made-up X-Forwarded-For entry does not get the guesser out of its lockout
    spoofed = _sign_in(user.username, password, f"203.0.113.99, {guesser}")
    assert LOCKED_TEXT.encode() in spoofed.content
    # another client behind the same proxy signs in
    assert _sign_in(user.username, password, "203.0.113.20").status_code == 302


@pytest.mark.django_db
def test_without_a_proxy_setting_x_forwarded_for_does_not_escape_an_address_lockout(
    settings, make_user
):
    settings.SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS = 3
    user = make_user(f"inv-{uuid.uuid4().hex[:8]}", roles.INVESTIGATOR)
    remote = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    for i in range(3):
        Client().post(
            "/accounts/login/",
            {"username": f"guess-{i}-{uuid.uuid4().hex[:6]}", "password": "wrong"},
            REMOTE_ADDR=remote,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i + 1}",
        )
    response = Client().post(
        "/accounts/login/",
        {"username": user.username, "password": f"pw-{user.username}-123!"},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR="203.0.113.200",
    )
    assert LOCKED_TEXT.encode() in response.content


NETWORKS = ["10.0.0.0/8", "fd00::/8"]


def test_behind_proxy_networks_the_client_is_the_nearest_address_outside_them(settings):
    settings.SECUREFLOW_TRUSTED_PROXY_NETWORKS = NETWORKS
    # one proxy, two proxies, an IPv6 proxy: their entries are skipped
    assert address_of(forwarded="198.51.100.1") == "198.51.100.1"
    assert address_of(forwarded="198.51.100.1, 10.1.2.3") == "198.51.100.1"
    assert address_of("fd00::7", forwarded="198.51.100.1, fd00::9") == "198.51.100.1"
    # what the client wrote itself, left of the first outside address, counts for nothing
    assert address_of(forwarded="1.1.1.1, 2.2.2.2, 198.51.100.1, 10.0.0.9") == "198.51.100.1"
    # a client inside the networks (an internal system): the leftmost entry
    assert address_of(forwarded="10.3.3.3, 10.0.0.9") == "10.3.3.3"


def test_a_connection_from_outside_the_proxy_networks_has_its_header_ignored(settings):
    settings.SECUREFLOW_TRUSTED_PROXY_NETWORKS = NETWORKS
    assert address_of("203.0.113.7", forwarded="198.51.100.1") == "203.0.113.7"
    # the count is not used when networks are set
    settings.SECUREFLOW_TRUSTED_PROXIES = 1
    assert address_of("203.0.113.7", forwarded="198.51.100.1") == "203.0.113.7"


@pytest.mark.parametrize("forwarded", [None, "", "not-an-address", "198.51.100.1, junk"])
def test_behind_proxy_networks_a_garbled_header_falls_back_to_the_connection(settings, forwarded):
    settings.SECUREFLOW_TRUSTED_PROXY_NETWORKS = NETWORKS
    assert address_of(forwarded=forwarded) == PROXY


def test_a_mistyped_proxy_network_names_itself(settings):
    settings.SECUREFLOW_TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8", "10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured, match="10.0.0.0/33"):
        address_of(forwarded="198.51.100.1")


def test_a_mistyped_proxy_network_stops_the_start():
    env = {**os.environ, "SECUREFLOW_TRUSTED_PROXY_NETWORKS": "10.0.0.0/8,proxy.internal"}
    done = manage_check(env)
    assert done.returncode != 0
    assert "'proxy.internal' is not an IP address or network" in done.stderr
