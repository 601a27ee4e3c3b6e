"""The migration that moves per-decision model version links into shared version sets
(and back), on the configured database (SQLite, or PostgreSQL's set-based path)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("detection", "0003_retraining_shadow_promotions")]
AFTER = [("detection", "0006_remove_transactionscore_model_versions")]


def migrate(targets: list[tuple[str, str]]):
    """Migrate detection to `targets`; the models as they are then (other apps: latest)."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "detection"]
    return executor.loader.project_state([*others, *targets]).apps


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_link_rows_become_shared_sets_and_come_back_on_reverse():
    apps = migrate(BEFORE)
    try:
        version = apps.get_model("detection", "ModelVersion")
        score = apps.get_model("detection", "TransactionScore")
        customer = apps.get_model("transactions", "Customer").objects.create(
            external_id="C-M", name="C-M"
        )
        account = apps.get_model("transactions", "Account").objects.create(
            customer=customer, number="AE-M"
        )
        txn_model = apps.get_model("transactions", "Transaction")
        forest, encoder, supervised = (
            version.objects.create(kind=kind, version=1, artifact_path="/nowhere")
            for kind in ("isolation_forest", "autoencoder", "supervised")
        )
        forest2 = version.objects.create(kind="isolation_forest", version=2, artifact_path="/x")
        links = {
            "three": [supervised, forest, encoder],
            "three-again": [encoder, forest, supervised],
            "other": [forest2, encoder],
            "rules-only": [],
        }
        stored = {}
        for name, linked in links.items():
            txn = txn_model.objects.create(
                external_id=f"M-{name}",
                account=account,
                amount=Decimal("1.00"),
                occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
            )
            stored[name] = score.objects.create(transaction=txn, risk_score=0.1, outcome="approve")
            stored[name].model_versions.set([v.pk for v in linked])

        apps = migrate(AFTER)
        score = apps.get_model("detection", "TransactionScore")
        version_set = apps.get_model("detection", "ModelVersionSet")
        assert version_set.objects.count() == 2
        by_name = {name: score.objects.get(pk=s.pk).version_set for name, s in stored.items()}
        assert by_name["three"] == by_name["three-again"]
        assert by_name["rules-only"] is None
        assert set(by_name["three"].versions.values_list("pk", flat=True)) == {
            forest.pk,
            encoder.pk,
            supervised.pk,
        }
        assert by_name["three"].key == ",".join(
            str(pk) for pk in sorted([forest.pk, encoder.pk, supervised.pk])
        )
        assert set(by_name["other"].versions.values_list("pk", flat=True)) == {
            forest2.pk,
            encoder.pk,
        }

        apps = migrate(BEFORE)
        score = apps.get_model("detection", "TransactionScore")
        for name, linked in links.items():
            back = score.objects.get(pk=stored[name].pk)
            assert set(back.model_versions.values_list("pk", flat=True)) == {v.pk for v in linked}
    finally:
        migrate(latest())
