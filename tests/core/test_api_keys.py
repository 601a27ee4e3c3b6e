"""API keys: stored as digests, shown once, revoked, expired; made in the admin or on the
command line; the API tokens of earlier releases become keys and their table is dropped."""

import hashlib
import importlib
import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from secureflow.core import authentication
from secureflow.core.api_keys import api_key_create, api_key_revoke
from secureflow.core.models import ApiKey

URL = "/api/v1/transactions/"


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _stored_text(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return repr(cursor.fetchall())


@pytest.mark.django_db
def test_a_key_works_and_only_its_digest_is_stored(investigator):
    issued = api_key_create(user=investigator, name="card switch")

    assert re.fullmatch(r"sf_[A-Za-z0-9_-]{40}", issued.key)
    assert client_with(issued.key).get(URL).status_code == 200
    assert issued.key not in _stored_text(ApiKey._meta.db_table)
    stored = ApiKey.objects.get()
    assert stored.digest == hashlib.sha256(issued.key.encode()).hexdigest()
    assert stored.prefix == issued.key[:10]
    assert stored.last_used_at is not None
    # another key of the same user is another key
    other = api_key_create(user=investigator, name="card switch, next")
    assert other.key != issued.key
    assert client_with(other.key).get(URL).status_code == 200


@pytest.mark.django_db
def test_a_key_may_come_as_a_bearer_token(investigator):
    issued = api_key_create(user=investigator, name="gateway")
    for scheme in ("Bearer", "bearer", "Token", "token"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {issued.key}")
        assert client.get(URL).status_code == 200, scheme
    for header in (f"Basic {issued.key}", "Bearer", f"Bearer {issued.key} extra"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get(URL).status_code == 401, header
    schema = client_with(issued.key).get("/api/schema/?format=json").json()
    scheme = schema["components"]["securitySchemes"]["apiKeyAuth"]
    assert scheme["name"] == "Authorization" and "Bearer <key>" in scheme["description"]


@pytest.mark.django_db
def test_a_wrong_key_is_401(investigator):
    issued = api_key_create(user=investigator, name="card switch")
    for wrong in (issued.key[:-1], issued.key + "x", "0" * 40, issued.api_key.digest):
        refused = client_with(wrong).get(URL)
        assert refused.status_code == 401, wrong
        assert refused.json()["code"] == "authentication_failed"


@pytest.mark.django_db
def test_a_revoked_key_stops_at_once_and_the_next_one_goes_on(investigator, admin_user_sf):
    old = api_key_create(user=investigator, name="card switch")
    new = api_key_create(user=investigator, name="card switch, rotated")
    assert client_with(old.key).get(URL).status_code == 200  # cached now

    assert api_key_revoke(api_key=old.api_key, revoked_by=admin_user_sf) is True
    assert api_key_revoke(api_key=old.api_key, revoked_by=admin_user_sf) is False

    assert client_with(old.key).get(URL).status_code == 401
    assert client_with(new.key).get(URL).status_code == 200
    revoked = ApiKey.objects.get(pk=old.api_key.pk)
    assert revoked.revoked_by == admin_user_sf and revoked.revoked_at is not None


@pytest.mark.django_db
def test_an_expired_key_is_refused_even_when_cached(investigator, monkeypatch):
    issued = api_key_create(
        user=investigator, name="pilot", expires_at=timezone.now() + timedelta(hours=1)
    )
    client = client_with(issued.key)
    assert client.get(URL).status_code == 200
    assert authentication._entries  # cached

    later = timezone.now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(authentication.timezone, "now", lambda: later)
    monkeypatch.setattr("secureflow.core.api_keys.timezone.now", lambda: later)
    assert client.get(URL).status_code == 401


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(investigator, settings, monkeypatch):
    settings.SECUREFLOW_TOKEN_CACHE_SECONDS = 0  # every request looks the key up
    issued = api_key_create(user=investigator, name="card switch")
    client = client_with(issued.key)
    start = timezone.now()
    clock = [start]
    monkeypatch.setattr("secureflow.core.api_keys.timezone.now", lambda: clock[0])

    assert client.get(URL).status_code == 200
    assert ApiKey.objects.get().last_used_at == start
    clock[0] = start + timedelta(seconds=59)
    assert client.get(URL).status_code == 200
    assert ApiKey.objects.get().last_used_at == start
    clock[0] = start + timedelta(seconds=61)
    assert client.get(URL).status_code == 200
    assert ApiKey.objects.get().last_used_at == start + timedelta(seconds=61)


@pytest.mark.django_db
def test_admin_makes_a_key_shows_it_once_and_revokes_it(client, admin_user_sf, investigator):
    admin_user_sf.is_superuser = True
    admin_user_sf.save()
    client.force_login(admin_user_sf)

    added = client.post(
        "/admin/core/apikey/add/",
        {"user": investigator.pk, "name": "card switch", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )
    assert added.status_code == 200
    page = added.content.decode()
    key = re.search(r"API key for ivy: (sf_[A-Za-z0-9_-]{40})", page).group(1)
    api_key = ApiKey.objects.get()
    assert (api_key.user, api_key.name, api_key.created_by) == (
        investigator,
        "card switch",
        admin_user_sf,
    )
    assert client_with(key).get(URL).status_code == 200

    # the list and the key's page show its prefix, never the key
    for url in ("/admin/core/apikey/", f"/admin/core/apikey/{api_key.pk}/change/"):
        shown = client.get(url).content.decode()
        assert f"{key[:10]}…" in shown and key not in shown

    revoked = client.post(
        "/admin/core/apikey/",
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
        follow=True,
    )
    assert "1 API key(s) revoked." in revoked.content.decode()
    assert client_with(key).get(URL).status_code == 401


@pytest.mark.django_db
def test_only_those_allowed_to_manage_keys_see_them(client, make_user, investigator):
    api_key_create(user=investigator, name="card switch")
    client.force_login(investigator)  # not staff: sent to the admin's sign-in
    assert client.get("/admin/core/apikey/").status_code == 302
    staff = make_user("stan", role=None, is_staff=True)  # staff without the permissions
    client.force_login(staff)
    assert client.get("/admin/core/apikey/").status_code == 403
    assert client.get("/admin/core/apikey/add/").status_code == 403


@pytest.mark.django_db
def test_admin_refuses_an_expiry_in_the_past(client, admin_user_sf, investigator):
    admin_user_sf.is_superuser = True
    admin_user_sf.save()
    client.force_login(admin_user_sf)
    past = timezone.localtime() - timedelta(days=1)
    response = client.post(
        "/admin/core/apikey/add/",
        {
            "user": investigator.pk,
            "name": "pilot",
            "expires_at_0": past.strftime("%Y-%m-%d"),
            "expires_at_1": past.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 200
    assert "The expiry must be in the future." in response.content.decode()
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_command_prints_a_working_key(investigator):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_key",
        "ivy",
        "--name",
        "card switch",
        "--expires-days",
        "30",
        stdout=out,
        stderr=err,
    )
    key = out.getvalue().strip()
    assert client_with(key).get(URL).status_code == 200
    api_key = ApiKey.objects.get()
    assert api_key.name == "card switch"
    assert timedelta(days=29, hours=23) < api_key.expires_at - timezone.now() <= timedelta(days=30)
    assert f"{key[:10]}… for ivy" in err.getvalue() and key not in err.getvalue()

    with pytest.raises(CommandError, match="no user"):
        call_command("create_api_key", "nobody", stdout=io.StringIO(), stderr=io.StringIO())
    investigator.is_active = False
    investigator.save()
    with pytest.raises(CommandError, match="deactivated"):
        call_command("create_api_key", "ivy", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def old_token_table(transactional_db):
    """DRF's token table as an earlier release left it; dropped afterwards if still there."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            + (
                "created timestamp with time zone NOT NULL, "
                if connection.vendor == "postgresql"
                else "created datetime NOT NULL, "
            )
            + "user_id integer NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)",
            ["authtoken", "0001_initial", timezone.now()],
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS authtoken_token")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


# transactional: SQLite alters its schema outside a transaction
def test_tokens_of_earlier_releases_become_keys_and_their_table_goes(old_token_table, make_user):
    """The migration that brought API keys: an old plaintext token keeps working as a
    key, and the table that held it in plaintext is dropped."""
    investigator = make_user("ivy")
    old_token = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [old_token, timezone.now() - timedelta(days=90), investigator.pk],
        )
    migration = importlib.import_module("secureflow.core.migrations.0003_api_keys")
    state = MigrationExecutor(connection).loader.project_state(("core", "0003_api_keys"))
    with connection.schema_editor() as editor:
        migration.keys_from_tokens(state.apps, editor)

    converted = ApiKey.objects.get()
    assert converted.user == investigator and converted.prefix == old_token[:10]
    assert converted.created_at < timezone.now() - timedelta(days=89)
    assert client_with(old_token).get(URL).status_code == 200
    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
