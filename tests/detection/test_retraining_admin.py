"""Admin actions on model versions: train a challenger, promote, roll back, shadow; only
staff with the Admin role may run them, and each is audited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from detection.model_training import models_train
from detection.models import ModelPromotion, PromotionTrigger, RetrainingRun
from detection.scoring.loader import reset_engine
from secureflow.core import roles
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank

URL = "/admin/detection/modelversion/"


@pytest.fixture
def versions(db, settings, tmp_path):
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    reset_engine()
    end = timezone.localdate() + timedelta(days=1)
    bulk_load_frame(generate_demo_bank(customers=40, days=15, seed=8, end=end).transactions)
    quick = {"kinds": ["isolation_forest"], "if_n_estimators": 10}
    (first,) = models_train(seed=1, train_options=quick)
    (second,) = models_train(seed=2, activate=False, train_options=quick)
    yield first, second
    reset_engine()


def act(client, action: str, *pks: int):
    return client.post(URL, {"action": action, "_selected_action": list(pks)}, follow=True)


def test_admin_promotes_rolls_back_shadows_and_queues_retraining(
    client, admin_user_sf, versions, django_capture_on_commit_callbacks
):
    first, second = versions
    client.force_login(admin_user_sf)
    page = client.get(URL)
    assert page.status_code == 200
    for action in ("train_challenger", "promote_selected", "roll_back", "put_in_shadow"):
        assert f'value="{action}"' in page.content.decode()

    response = act(client, "promote_selected", second.pk)
    assert response.status_code == 200
    second.refresh_from_db()
    assert second.is_active
    promotion = ModelPromotion.objects.order_by("-id").first()
    assert promotion.trigger == PromotionTrigger.MANUAL
    assert promotion.promoted_by == admin_user_sf
    assert list(promotion.from_versions.all()) == [first]
    assert "promoted by ada in admin" in promotion.reason

    act(client, "roll_back", second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_active and not second.is_active
    rollback = ModelPromotion.objects.order_by("-id").first()
    assert rollback.trigger == PromotionTrigger.ROLLBACK
    assert rollback.promoted_by == admin_user_sf

    act(client, "put_in_shadow", second.pk)
    second.refresh_from_db()
    assert second.is_shadow
    refused = act(client, "put_in_shadow", first.pk)
    assert "already decides" in refused.content.decode()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = act(client, "train_challenger", first.pk)
    run = RetrainingRun.objects.get()
    assert run.trigger == "admin" and run.status == "queued"
    assert run.requested_by == admin_user_sf
    assert len(callbacks) == 1  # the worker task, sent once the run is committed
    assert f"Retraining run #{run.pk} queued" in response.content.decode()

    for url in (
        "/admin/detection/retrainingrun/",
        f"/admin/detection/retrainingrun/{run.pk}/change/",
        "/admin/detection/modelpromotion/",
        "/admin/detection/shadowscore/",
    ):
        assert client.get(url).status_code == 200, url


def test_staff_without_the_admin_role_cannot_promote(client, make_user, versions):
    first, second = versions
    staff = make_user("sam", roles.SENIOR_INVESTIGATOR, is_staff=True)
    client.force_login(staff)
    act(client, "promote_selected", second.pk)
    act(client, "roll_back", second.pk)
    second.refresh_from_db()
    assert not second.is_active
    assert ModelPromotion.objects.count() == 1  # the training activation only
    assert client.get(URL).status_code == 403
