"""Model version sets: one row per combination of versions, shared by every decision made
with it (batch and real time), cached in-process, and the API still lists the versions."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from detection.models import ModelVersion, ModelVersionSet, TransactionScore
from detection.rules.cache import get_rule_set, invalidate_rule_set
from detection.scoring import version_sets
from detection.scoring.engine import ScoringEngine
from detection.scoring.loader import reset_engine
from detection.scoring.version_sets import (
    clear_version_set_cache,
    version_set_id,
    version_set_refs,
)
from transactions.batches.services import import_batch_create, import_batch_run
from transactions.choices import BatchSource, BatchStatus

HEADER = "id,timestamp,customer,account,counterparty,amount,currency,transfer_type,country,channel"


@pytest.fixture(autouse=True)
def fresh_caches(settings, tmp_path):
    settings.SECUREFLOW_BATCH_DIR = tmp_path / "batches"
    reset_engine()
    invalidate_rule_set()
    yield
    reset_engine()
    invalidate_rule_set()


def make_versions() -> list[ModelVersion]:
    return [
        ModelVersion.objects.create(kind=kind, version=version, artifact_path=f"/nowhere/{kind}")
        for kind, version in (("supervised", 3), ("autoencoder", 2), ("isolation_forest", 1))
    ]


@pytest.fixture
def engine_with_versions(monkeypatch):
    """Scoring with the rules and three (artifact-less) model versions: every decision
    carries their ids, as decisions of the loaded models do."""
    versions = make_versions()
    ids = sorted(v.pk for v in versions)

    def engine() -> ScoringEngine:
        return ScoringEngine(None, get_rule_set(), model_version_ids=ids)

    monkeypatch.setattr("transactions.batches.services.get_engine", engine)
    monkeypatch.setattr("detection.scoring.service.get_engine", engine)
    return versions


@pytest.mark.django_db
def test_a_combination_of_versions_is_one_set_whatever_the_order():
    a, b, c = make_versions()
    first = version_set_id([a.pk, b.pk, c.pk])
    assert version_set_id([c.pk, a.pk, b.pk]) == first
    clear_version_set_cache()
    assert version_set_id([b.pk, c.pk, a.pk]) == first  # found in the database
    assert version_set_id([a.pk]) != first
    assert version_set_id([]) is None
    assert ModelVersionSet.objects.count() == 2
    stored = ModelVersionSet.objects.get(pk=first)
    assert stored.key == ",".join(str(pk) for pk in sorted([a.pk, b.pk, c.pk]))
    assert set(stored.versions.values_list("pk", flat=True)) == {a.pk, b.pk, c.pk}
    assert version_set_refs(first) == [
        {"kind": "autoencoder", "version": 2},
        {"kind": "isolation_forest", "version": 1},
        {"kind": "supervised", "version": 3},
    ]
    assert version_set_refs(None) == []


@pytest.mark.django_db(transaction=True)
def test_a_committed_set_costs_no_query_and_a_rolled_back_one_is_not_remembered():
    a, b, c = make_versions()
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = version_set_id([a.pk, b.pk])
        raise RuntimeError("the decision failed")
    assert not ModelVersionSet.objects.filter(pk=rolled_back).exists()
    assert ("default", f"{a.pk},{b.pk}") not in version_sets._set_ids

    with transaction.atomic():
        kept = version_set_id([a.pk, b.pk])
    assert ModelVersionSet.objects.filter(pk=kept).exists()
    with CaptureQueriesContext(connection) as queries:
        assert version_set_id([b.pk, a.pk]) == kept
        version_set_refs(kept)
        version_set_refs(kept)
    assert len(queries) == 1  # the refs, read once


@pytest.mark.django_db
def test_batch_and_real_time_decisions_share_the_set_and_the_api_lists_the_versions(
    engine_with_versions, investigator_api
):
    text = f"{HEADER}\n" + "".join(
        f"S{i},2026-03-01T10:{i:02d}:00Z,C1,AE-1,BEN-{i % 3},{10 + i}.00,AED,L,AE,web\n"
        for i in range(12)
    )
    batch = import_batch_create(
        owner=None, source=BatchSource.CLI, content=text.encode(), chunk_size=5, enqueue=False
    )
    batch = import_batch_run(batch_id=batch.pk)
    assert batch.status == BatchStatus.DONE and batch.chunks_total == 3

    posted = investigator_api.post(
        "/api/v1/transactions/",
        {
            "id": "RT-1",
            "timestamp": "2026-03-01T11:00:00Z",
            "account": "AE-1",
            "customer": "C1",
            "amount": "25.00",
            "transfer_type": "L",
            "country": "AE",
        },
        format="json",
    )
    assert posted.status_code == 201, posted.content

    assert ModelVersionSet.objects.count() == 1
    shared = ModelVersionSet.objects.get()
    assert TransactionScore.objects.count() == 13
    assert set(TransactionScore.objects.values_list("version_set_id", flat=True)) == {shared.pk}
    expected = [
        {"kind": "autoencoder", "version": 2},
        {"kind": "isolation_forest", "version": 1},
        {"kind": "supervised", "version": 3},
    ]
    assert sorted(posted.json()["model_versions"], key=lambda r: r["kind"]) == expected
    clear_version_set_cache()  # a fresh process reads them from the database
    for external_id in ("S0", "S11", "RT-1"):
        detail = investigator_api.get(f"/api/v1/transactions/{external_id}/")
        assert detail.status_code == 200
        assert detail.json()["score"]["model_versions"] == expected
    listed = investigator_api.get("/api/v1/transactions/?limit=50").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert len(rows) == 13
    assert all(row["score"]["model_versions"] == expected for row in rows)
    score = TransactionScore.objects.get(transaction__external_id="S0")
    assert {v.kind for v in score.model_versions} == {v.kind for v in engine_with_versions}


@pytest.mark.django_db
def test_decisions_of_the_rules_alone_have_no_set(investigator_api):
    posted = investigator_api.post(
        "/api/v1/transactions/",
        {
            "id": "RULES-1",
            "timestamp": "2026-03-01T11:00:00Z",
            "account": "AE-9",
            "amount": "25.00",
        },
        format="json",
    )
    assert posted.status_code == 201, posted.content
    assert posted.json()["model_versions"] == []
    score = TransactionScore.objects.get()
    assert score.version_set_id is None and list(score.model_versions) == []
    detail = investigator_api.get("/api/v1/transactions/RULES-1/").json()
    assert detail["score"]["model_versions"] == []
