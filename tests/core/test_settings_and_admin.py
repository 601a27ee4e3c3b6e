import os
import secrets
import subprocess
import sys

import pytest
from django.contrib import admin

from tests.conftest import ROOT


def test_production_settings_pass_check_deploy():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "secureflow.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "fraud.example-bank.ae",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_environment_values_are_taken_as_they_are(monkeypatch):
    from secureflow.settings.environment import Env

    env = Env()
    monkeypatch.setenv("SF_TEST_SECRET", "$HOME&x(y")  # looks like a reference to $HOME
    monkeypatch.setenv("SF_TEST_OTHER", "$NO_SUCH_VARIABLE")
    monkeypatch.setenv("SF_TEST_HOSTS", "$a.example,b.example")
    monkeypatch.setenv("SF_TEST_PLAIN", "plain")
    assert env.str("SF_TEST_SECRET") == "$HOME&x(y"
    assert env.str("SF_TEST_OTHER", default="") == "$NO_SUCH_VARIABLE"
    assert env.list("SF_TEST_HOSTS") == ["$a.example", "b.example"]
    assert env.str("SF_TEST_PLAIN") == "plain"
    assert env.str("SF_TEST_MISSING", default="fallback") == "fallback"


def test_production_settings_take_a_secret_key_that_starts_with_a_dollar():
    key = "$" + secrets.token_urlsafe(50)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "secureflow.settings.production",
        "DJANGO_SECRET_KEY": key,
        "DJANGO_ALLOWED_HOSTS": "fraud.example-bank.ae",
    }
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.SECRET_KEY)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == key


def manage_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`manage.py check` in a new process with this environment."""
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_refuse_to_start_without_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(
        DJANGO_SETTINGS_MODULE="secureflow.settings.production",
        DJANGO_ALLOWED_HOSTS="fraud.example-bank.ae",
    )
    result = manage_check(env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/transactions/customer/",
        "/admin/transactions/account/",
        "/admin/transactions/counterparty/",
        "/admin/transactions/transaction/",
        "/admin/cases/feedbacklabel/",
        "/admin/cases/labelimport/",
        "/admin/core/apikey/",
        "/admin/core/apikey/add/",
    ],
)
def test_admin_lists_render_for_admin(client, admin_user_sf, url):
    client.force_login(admin_user_sf)
    admin_user_sf.is_superuser = True
    admin_user_sf.save()
    response = client.get(url)
    assert response.status_code == 200


@pytest.mark.django_db
def test_investigator_cannot_open_admin(client, investigator):
    client.force_login(investigator)
    response = client.get("/admin/transactions/transaction/")
    assert response.status_code == 302  # sent to the admin login: not staff


def test_every_model_of_the_transactions_app_is_in_admin():
    from django.apps import apps

    for model in apps.get_app_config("transactions").get_models():
        assert admin.site.is_registered(model), model
