"""Who may read the OpenAPI schema and its interactive docs: anyone with a role, by token
or session; not anonymous visitors, not users without a role."""

import pytest
from django.test import Client

from tests.api.test_schema_properties import served_schema

pytestmark = pytest.mark.django_db

SCHEMA = "/api/schema/?format=json"
DOCS = "/api/docs/"


def test_anonymous_clients_get_no_schema(api_client):
    response = api_client.get(SCHEMA)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert "paths" not in response.content.decode()


def test_a_token_without_a_role_gets_no_schema(token_client):
    response = token_client("norole", role=None).get(SCHEMA)
    assert response.status_code == 403
    assert "paths" not in response.content.decode()


@pytest.mark.parametrize("role", ["Investigator", "Senior investigator", "Admin"])
def test_every_role_reads_the_schema_by_token(token_client, role):
    response = token_client(f"user-{role[:3].lower()}", role=role).get(SCHEMA)
    assert response.status_code == 200
    assert "/api/v1/transactions/" in response.json()["paths"]


def test_the_property_tests_use_the_schema_that_is_served(investigator_api):
    assert investigator_api.get(SCHEMA).json() == served_schema()


@pytest.mark.parametrize("path", [DOCS, f"{DOCS}?script="])
def test_anonymous_browsers_are_sent_from_the_docs_to_sign_in(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/api/docs/")


def test_signed_in_users_read_the_docs_and_schema_in_their_session(investigator):
    browser = Client()
    browser.force_login(investigator)
    docs = browser.get(DOCS)
    assert docs.status_code == 200
    assert b"swagger-ui-bundle.js" in docs.content
    script = browser.get(f"{DOCS}?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert browser.get(SCHEMA).status_code == 200


def test_signed_in_users_without_a_role_are_refused_the_docs(make_user):
    browser = Client()
    browser.force_login(make_user("norole", role=None))
    assert browser.get(DOCS).status_code == 403
    assert browser.get(SCHEMA).status_code == 403
