"""Content-Security-Policy on the pages, admin, the API docs and the API."""

import pytest
from django.test import Client
from django.urls import reverse

from secureflow.core.security_headers import HEADER


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/healthz"])
def test_pages_carry_the_policy(path):
    response = Client().get(path)
    policy = response[HEADER]
    assert "script-src 'self'" in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


@pytest.mark.django_db
def test_api_docs_start_from_a_script_file_not_an_inline_script(client, investigator):
    client.force_login(investigator)
    page = client.get(reverse("api-docs"))
    html = page.content.decode()
    assert "script-src 'self'" in page[HEADER]
    assert "<script>" not in html
    script = client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.django_db
def test_the_policy_is_a_setting(settings):
    settings.SECUREFLOW_CONTENT_SECURITY_POLICY = "default-src 'none'"
    assert Client().get("/accounts/login/")[HEADER] == "default-src 'none'"
    settings.SECUREFLOW_CONTENT_SECURITY_POLICY = ""
    assert HEADER not in Client().get("/accounts/login/")
