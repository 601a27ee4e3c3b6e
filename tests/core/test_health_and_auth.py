import json

import pytest
from django.db import connection
from django.urls import reverse

from secureflow.core import roles
from secureflow.core.services import demo_user_ensure


@pytest.mark.django_db
def test_healthz_reports_database_and_broker_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_503_when_broker_unreachable(client, settings):
    from secureflow.celery import app

    previous = app.conf.broker_url
    # Nothing listens on port 1 of loopback.
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert body["broker"]["ok"] is False
    assert body["database"]["ok"] is True


def _unreachable_broker_health(client, caplog) -> dict:
    from secureflow.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        with caplog.at_level("WARNING", logger="secureflow.health"):
            response = client.get("/healthz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    return response.json()


@pytest.mark.django_db
def test_healthz_tells_anonymous_callers_what_is_up_and_nothing_of_the_setup(client, caplog):
    body = _unreachable_broker_health(client, caplog)
    assert body == {
        "status": "unavailable",
        "database": {"ok": True},
        "broker": {"ok": False},
        "worker": {"seen": False},
        "models": {"ok": True},
    }
    # the error (it can name hosts, ports and users) is in the log
    assert any("Health check broker failed" in r.getMessage() for r in caplog.records)
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_healthz_tells_signed_in_admins_the_details(client, make_user, caplog):
    client.force_login(make_user("ada", roles.ADMIN))
    body = _unreachable_broker_health(client, caplog)
    assert body["database"]["vendor"] == connection.vendor
    assert body["broker"]["transport"] == "redis"
    assert "127.0.0.1" in body["broker"]["error"]
    client.force_login(make_user("ivy", roles.INVESTIGATOR))
    assert "transport" not in _unreachable_broker_health(client, caplog)["broker"]


@pytest.mark.django_db
def test_healthz_says_the_models_score_when_none_is_refused(client, make_user):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["models"] == {"ok": True}
    client.force_login(make_user("ada", roles.ADMIN))
    assert client.get("/healthz").json()["models"] == {
        "ok": True,
        "serving": [],
        "refused": {},
        "worker_refused": {},
    }


@pytest.mark.django_db
def test_healthz_is_degraded_while_an_active_model_is_refused(
    client, make_user, refused_model, caplog
):
    with caplog.at_level("WARNING", logger="secureflow.health"):
        response = client.get("/healthz")

    # decisions still come (the other models and the rules): served, but flagged
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["models"] == {"ok": False}  # nothing of the setup for anyone
    assert any("isolation_forest" in r.getMessage() for r in caplog.records)

    client.force_login(make_user("ada", roles.ADMIN))
    models = client.get("/healthz").json()["models"]
    assert models["ok"] is False and models["serving"] == []
    assert set(models["refused"]) == {"isolation_forest"}
    assert "isolation_forest-gone" in models["refused"]["isolation_forest"]


@pytest.mark.django_db
def test_the_worker_heartbeat_records_the_models_it_refused(refused_model):
    from secureflow.core.models import WorkerHeartbeat
    from secureflow.core.tasks import worker_heartbeat

    worker_heartbeat.apply()

    beat = WorkerHeartbeat.objects.get()
    assert set(beat.refused_models) == {"isolation_forest"}
    assert "isolation_forest-gone" in beat.refused_models["isolation_forest"]


@pytest.mark.django_db
def test_healthz_is_degraded_while_the_worker_refuses_a_model(client, make_user):
    from django.utils import timezone

    from secureflow.core.models import WorkerHeartbeat

    # this process loads every active model (there is none); the worker reported a refusal
    WorkerHeartbeat.objects.create(
        hostname="celery@batch-1",
        seen_at=timezone.now(),
        refused_models={"autoencoder": "feature spec hash 'old' does not match"},
    )

    body = client.get("/healthz").json()
    assert body["status"] == "degraded" and body["models"] == {"ok": False}
    assert body["worker"] == {"seen": True, "age_seconds": body["worker"]["age_seconds"]}

    client.force_login(make_user("ada", roles.ADMIN))
    models = client.get("/healthz").json()["models"]
    assert models["refused"] == {}
    assert models["worker_refused"] == {
        "autoencoder": "celery@batch-1: feature spec hash 'old' does not match"
    }


@pytest.mark.django_db
def test_a_refusal_in_a_worker_gone_silent_no_longer_counts(client):
    from datetime import timedelta

    from django.utils import timezone

    from secureflow.core.health import WORKER_REPORT_SECONDS
    from secureflow.core.models import WorkerHeartbeat

    WorkerHeartbeat.objects.create(
        hostname="celery@old",
        seen_at=timezone.now() - timedelta(seconds=WORKER_REPORT_SECONDS + 5),
        refused_models={"autoencoder": "artifact directory does not exist"},
    )

    assert client.get("/healthz").json()["status"] == "ok"


@pytest.mark.django_db
def test_login_page_and_investigator_login(client, investigator):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content
    response = client.post(
        reverse("login"), {"username": "ivy", "password": "pw-ivy-123!"}, follow=True
    )
    assert response.status_code == 200
    assert response.context["user"].username == "ivy"
    assert b"Investigator" in response.content


@pytest.mark.django_db
def test_pages_require_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.django_db
def test_csrf_is_enforced_on_login(investigator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("login"), {"username": "ivy", "password": "pw-ivy-123!"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_demo_users_get_generated_password_once_and_roles():
    first = demo_user_ensure(username="demo-inv", role=roles.INVESTIGATOR)
    assert first.password and len(first.password) >= 12
    again = demo_user_ensure(username="demo-inv", role=roles.INVESTIGATOR)
    assert again.password is None
    from django.contrib.auth import authenticate

    user = authenticate(username="demo-inv", password=first.password)
    assert user is not None
    assert roles.is_investigator(user)
    assert not roles.is_admin(user)


@pytest.mark.django_db
def test_demo_admin_password_from_environment_value():
    login = demo_user_ensure(username="demo-admin", role=roles.ADMIN, password="from-env-Secret-9")
    assert login.password == "from-env-Secret-9"
    from django.contrib.auth import authenticate

    user = authenticate(username="demo-admin", password="from-env-Secret-9")
    assert user.is_staff and roles.is_admin(user)


@pytest.mark.django_db
def test_api_requires_authentication(api_client):
    response = api_client.get("/api/v1/")
    assert response.status_code in (401, 403)
