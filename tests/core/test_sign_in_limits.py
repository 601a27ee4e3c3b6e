"""Failed sign-ins lock a username at an address, an address, or a username everywhere out
of the pages and Django admin for a while, the right password included; the counts are kept
in the cache (Redis in CI)."""

import logging
import time
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from secureflow.core import roles

LOCKED_TEXT = "Too many failed sign-ins"


@pytest.fixture
def address() -> str:
    """An address of this test's own, so that no other test's failures count here."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


@pytest.fixture
def user(make_user):
    return make_user(f"inv-{uuid.uuid4().hex[:8]}", roles.INVESTIGATOR)


def sign_in(client: Client, username: str, password: str, address: str, url: str = ""):
    return client.post(
        url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def signed_in_as(client: Client) -> str | None:
    response = client.get(reverse("home"))
    return response.context["user"].username if response.status_code == 200 else None


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_username_at_that_address_even_with_the_right_one(
    client, user, address, caplog
):
    password = f"pw-{user.username}-123!"
    for _ in range(4):
        response = sign_in(client, user.username, "wrong", address)
        assert response.status_code == 200
        assert b"didn't match" in response.content
    with caplog.at_level(logging.WARNING, logger="secureflow.sign_in"):
        sign_in(client, user.username, "wrong", address)  # the fifth: locked from now on
    assert any("Sign-in locked" in r.getMessage() for r in caplog.records)

    response = sign_in(client, user.username, password, address)
    assert response.status_code == 200  # the form again, not the redirect of a sign-in
    assert LOCKED_TEXT.encode() in response.content
    assert b"Try again in 15 minutes." in response.content
    assert signed_in_as(client) is None
    # the owner, from another address, still signs in: guessing elsewhere locks no one out
    owner = Client()
    assert sign_in(owner, user.username, password, address + "0").status_code == 302
    assert signed_in_as(owner) == user.username
    # and the guessing address stays locked for that username
    assert LOCKED_TEXT.encode() in sign_in(Client(), user.username, password, address).content


@pytest.mark.django_db
def test_guessing_spread_over_addresses_locks_the_username_everywhere(
    client, user, address, settings, caplog
):
    settings.SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_USERNAME = 8
    password = f"pw-{user.username}-123!"
    with caplog.at_level(logging.WARNING, logger="secureflow.sign_in"):
        for i in range(8):  # 4 addresses, 2 failures each: no address reaches 5
            response = sign_in(Client(), user.username, "wrong", f"{address}{i % 4}")
            assert LOCKED_TEXT.encode() not in response.content
    assert any(
        "Sign-in locked" in r.getMessage() and f"username {user.username!r}" in r.getMessage()
        for r in caplog.records
    )
    fresh = Client()
    response = sign_in(fresh, user.username, password, address + "9")  # a new address
    assert LOCKED_TEXT.encode() in response.content
    assert signed_in_as(fresh) is None


@pytest.mark.django_db
def test_a_success_clears_the_count_at_its_address_only(client, user, address, settings):
    settings.SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_USERNAME = 6
    password = f"pw-{user.username}-123!"
    for _ in range(4):
        sign_in(client, user.username, "wrong", address)
    assert sign_in(client, user.username, password, address).status_code == 302
    client.logout()
    for _ in range(4):  # at this address the count started again: 4 of 5
        sign_in(client, user.username, "wrong", address + "0")
    # the username's count from every address (8 of 6) was not cleared by the success
    assert LOCKED_TEXT.encode() in sign_in(Client(), user.username, password, address).content


@pytest.mark.django_db
def test_a_lockout_says_nothing_about_whether_the_username_exists(client, address):
    name = "nobody-" + uuid.uuid4().hex[:8]
    for _ in range(5):
        response = sign_in(client, name, "wrong", address)
        assert LOCKED_TEXT.encode() not in response.content
    response = sign_in(client, name, "wrong", address)
    assert LOCKED_TEXT.encode() in response.content


@pytest.mark.django_db
def test_other_usernames_still_sign_in_and_success_clears_the_count(
    client, user, make_user, address
):
    other = make_user(f"inv-{uuid.uuid4().hex[:8]}", roles.INVESTIGATOR)
    for _ in range(5):
        sign_in(client, user.username, "wrong", address)
    response = sign_in(client, other.username, f"pw-{other.username}-123!", address)
    assert response.status_code == 302
    assert signed_in_as(client) == other.username

    # four failures, a success, four more: never five in a row, never locked
    fresh = Client()
    for _ in range(4):
        sign_in(fresh, other.username, "wrong", address)
    assert sign_in(fresh, other.username, f"pw-{other.username}-123!", address).status_code == 302
    fresh.logout()
    for _ in range(4):
        sign_in(fresh, other.username, "wrong", address)
    assert sign_in(fresh, other.username, f"pw-{other.username}-123!", address).status_code == 302


@pytest.mark.django_db
def test_many_usernames_from_one_address_lock_the_address(client, user, address, settings):
    settings.SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS = 6
    for i in range(6):
        sign_in(client, f"guess-{i}-{uuid.uuid4().hex[:6]}", "wrong", address)
    password = f"pw-{user.username}-123!"
    assert LOCKED_TEXT.encode() in sign_in(client, user.username, password, address).content
    # the same user from another address is not locked
    assert sign_in(Client(), user.username, password, address + "0").status_code == 302


@pytest.mark.django_db
def test_settings_without_a_sign_in_cache_count_in_the_default_one(client, user, address, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "x"}
    }
    for _ in range(5):
        assert sign_in(client, user.username, "wrong", address).status_code == 200
    response = sign_in(client, user.username, f"pw-{user.username}-123!", address)
    assert LOCKED_TEXT.encode() in response.content


@pytest.mark.django_db
def test_the_lockout_ends_after_its_minutes(client, user, address, settings):
    settings.SECUREFLOW_SIGN_IN_LOCKOUT_MINUTES = 1 / 60  # one second
    for _ in range(5):
        sign_in(client, user.username, "wrong", address)
    password = f"pw-{user.username}-123!"
    response = sign_in(client, user.username, password, address)
    assert b"Try again in 1 minute." in response.content
    time.sleep(1.5)
    assert sign_in(client, user.username, password, address).status_code == 302
    assert signed_in_as(client) == user.username


@pytest.mark.django_db
def test_django_admin_sign_in_is_limited_too(client, make_user, address):
    admin = make_user(f"adm-{uuid.uuid4().hex[:8]}", roles.ADMIN, is_staff=True)
    url = reverse("admin:login")
    for _ in range(5):
        assert sign_in(client, admin.username, "wrong", address, url).status_code == 200
    response = sign_in(client, admin.username, f"pw-{admin.username}-123!", address, url)
    assert response.status_code == 200 and LOCKED_TEXT.encode() in response.content
    assert client.get(reverse("admin:index")).status_code == 302  # still signed out


@pytest.mark.django_db
def test_a_session_ends_after_its_idle_time_and_each_request_renews_it(
    client, user, address, settings
):
    settings.SESSION_COOKIE_AGE = 2
    assert sign_in(client, user.username, f"pw-{user.username}-123!", address).status_code == 302
    for _ in range(3):  # 3 s in all, longer than the idle time, with a request every second
        time.sleep(1)
        assert signed_in_as(client) == user.username
    time.sleep(2.5)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.django_db
def test_sessions_default_to_thirty_idle_minutes_renewed_at_most_once_a_minute(client, user):
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert settings.SESSION_COOKIE_AGE == 30 * 60
    client.force_login(user)  # no request: the session is stamped by the sign-in itself
    with CaptureQueriesContext(connection) as ctx:
        assert signed_in_as(client) == user.username
    writes = [q["sql"] for q in ctx.captured_queries if "UPDATE" in q["sql"]]
    assert not [sql for sql in writes if "django_session" in sql]  # signed in just now


def test_failures_counted_in_another_process_lock_this_one(address):
    """Web processes share the counts (Redis, or files under var/ without it): failures
    made by a separate process lock the username at their address here."""
    import os
    import subprocess
    import sys

    from secureflow.core.sign_in_limits import sign_in_locked_for

    name = f"shared-{uuid.uuid4().hex[:8]}"
    assert sign_in_locked_for(name, address) == 0
    code = (
        "import django; django.setup()\n"
        "from secureflow.core.sign_in_limits import sign_in_failed\n"
        f"for _ in range(5): sign_in_failed({name!r}, {address!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy(), timeout=120)
    assert sign_in_locked_for(name, address) > 0
    assert sign_in_locked_for(name, address + "0") == 0  # from elsewhere the owner signs in
