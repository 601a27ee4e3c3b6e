"""Content-Security-Policy on the pages, admin, the API docs and the API."""

import base64
import hashlib
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
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


def _style_sources(policy: str) -> str:
    return next(part for part in policy.split(";") if part.strip().startswith("style-src"))


@pytest.mark.django_db
def test_pages_and_admin_allow_no_inline_style(client, admin_user_sf):
    client.force_login(admin_user_sf)
    for path in ("/accounts/login/", "/admin/", "/dashboard/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "'unsafe-inline'" not in _style_sources(response[HEADER]), path


@pytest.mark.django_db
def test_the_api_html_pages_allow_inline_styles_but_no_inline_script(client, investigator):
    client.force_login(investigator)
    for path, accept in (("/api/docs/", "text/html"), ("/api/v1/transactions/", "text/html")):
        response = client.get(path, HTTP_ACCEPT=accept)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
        policy = response[HEADER]
        assert "'unsafe-inline'" in _style_sources(policy), path
        assert "script-src 'self';" in policy and "object-src 'none'" in policy, path
    json_answer = client.get("/api/v1/transactions/", HTTP_ACCEPT="application/json")
    assert "'unsafe-inline'" not in json_answer[HEADER]


def test_the_admin_style_hash_is_that_of_the_installed_django():
    template = Path(admin.__file__).parent / "templates" / "admin" / "change_list.html"
    styles = re.findall(r"<style>(.*?)</style>", template.read_text(), re.S)
    digests = {
        base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() for style in styles
    }
    assert digests, "Django admin's change list has no <style> any more: drop the hash"
    for digest in digests:
        assert f"'sha256-{digest}'" in settings.SECUREFLOW_CONTENT_SECURITY_POLICY


def test_our_templates_hold_no_inline_style():
    root = Path(settings.BASE_DIR) / "templates"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.html")
        if re.search(r"<style|\sstyle\s*=", path.read_text())
    ]
    assert offenders == []
