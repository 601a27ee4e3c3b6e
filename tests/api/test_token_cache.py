"""API keys are trusted for a few seconds per process, and never past a change made in
this process: a deleted or revoked key, a deactivated user or a removed role take effect at
once."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from secureflow.core import authentication, roles
from secureflow.core.api_keys import api_key_digest
from secureflow.core.models import ApiKey

URL = "/api/v1/transactions/"


def _key_of(client) -> str:
    return client._credentials["HTTP_AUTHORIZATION"].split()[1]


def _token_of(client) -> ApiKey:
    return ApiKey.objects.select_related("user").get(digest=api_key_digest(_key_of(client)))


def _auth_queries(client) -> list[str]:
    """The reads of the key and of its user's roles one request made (the write of the
    key's last use, at most once a minute, is tested apart)."""
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL).status_code == 200
    return [
        q["sql"]
        for q in ctx.captured_queries
        # reads FROM the keys' table (the listed transactions join it for the key that
        # sent each one: not an authentication read)
        if q["sql"].startswith("SELECT")
        and ('FROM "core_apikey"' in q["sql"] or "auth_group" in q["sql"])
    ]


@pytest.mark.django_db
def test_a_known_token_is_not_looked_up_again(token_client):
    client = token_client("bank")
    first = _auth_queries(client)
    assert len(first) == 2  # the key with its user, then the user's roles
    assert _auth_queries(client) == []


@pytest.mark.django_db
def test_the_cache_expires(token_client, settings, monkeypatch):
    settings.SECUREFLOW_TOKEN_CACHE_SECONDS = 10
    clock = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: clock[0])
    client = token_client("bank")
    assert len(_auth_queries(client)) == 2
    clock[0] += 9.0
    assert _auth_queries(client) == []
    clock[0] += 2.0
    assert len(_auth_queries(client)) == 2


@pytest.mark.django_db
def test_zero_turns_the_cache_off(token_client, settings):
    settings.SECUREFLOW_TOKEN_CACHE_SECONDS = 0
    client = token_client("bank")
    assert len(_auth_queries(client)) == 2
    assert len(_auth_queries(client)) == 2


@pytest.mark.django_db
def test_a_deleted_key_stops_at_once(token_client):
    client = token_client("bank")
    assert client.get(URL).status_code == 200
    _token_of(client).delete()
    refused = client.get(URL)
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"


@pytest.mark.django_db
def test_a_deactivated_user_stops_at_once(token_client):
    client = token_client("bank")
    assert client.get(URL).status_code == 200
    user = _token_of(client).user
    user.is_active = False
    user.save()
    assert client.get(URL).status_code == 401


@pytest.mark.django_db
def test_a_removed_role_stops_at_once(token_client):
    client = token_client("bank")
    assert client.get(URL).status_code == 200
    user = _token_of(client).user
    user.groups.remove(Group.objects.get(name=roles.INVESTIGATOR))
    assert client.get(URL).status_code == 403
    user.groups.add(Group.objects.get(name=roles.INVESTIGATOR))
    assert client.get(URL).status_code == 200
    # emptying the role group from its side drops the cached roles too
    Group.objects.get(name=roles.INVESTIGATOR).user_set.clear()
    assert client.get(URL).status_code == 403


@pytest.mark.django_db
def test_each_request_gets_its_own_user_object(token_client):
    client = token_client("bank")
    token = _token_of(client)
    auth = authentication.CachedTokenAuthentication()
    first, first_key = auth.authenticate_credentials(_key_of(client))
    second, _ = auth.authenticate_credentials(_key_of(client))
    assert first_key == token
    assert first is not second and first.pk == second.pk
    first.first_name = "changed by one request"
    assert second.first_name != "changed by one request"
    assert roles.is_investigator(second)


@pytest.mark.django_db
def test_unknown_tokens_are_not_cached(token_client):
    client = token_client("bank")
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get(URL).status_code == 401
    assert authentication._entries == {}
