"""Batch pages (Django test client): upload, progress polling that stops when done, the
results table (filters, sorting, pages, reasons), downloads, roles and ownership."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from secureflow.core import roles
from transactions.batches.services import (
    import_batch_create,
    import_batch_prepare,
    import_batch_run,
)
from transactions.choices import BatchSource
from transactions.models import ImportBatch, ImportMapping

LIST = "/batches/"
HEADER = "id,timestamp,customer,account,counterparty,amount,currency,transfer_type,country,channel"
CALM = "".join(
    f"P{i:03d},2026-03-0{1 + i % 5}T1{i % 10}:{i % 60:02d}:00Z,C1,AE-1,BEN-{i % 4},"
    f"{20 + i}.00,AED,L,AE,web\n"
    for i in range(60)
)
BURST = "".join(
    f"Z{i},2026-03-09T09:00:0{i}Z,C2,AE-2,NEW-{i},{900 + i}.00,AED,Q,AE,mobile\n" for i in range(5)
)
HTMX = {"HTTP_HX_REQUEST": "true"}


pytestmark = pytest.mark.usefixtures("batch_settings")


@pytest.fixture
def browser(investigator) -> Client:
    client = Client()
    client.force_login(investigator)
    return client


def done_batch(owner, text: str = f"{HEADER}\n{CALM}{BURST}") -> ImportBatch:
    batch = import_batch_create(
        owner=owner, source=BatchSource.UPLOAD, content=text.encode(), enqueue=False
    )
    return import_batch_run(batch_id=batch.pk)


def result_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="result-([^"]+)"', html)


@pytest.mark.django_db
def test_upload_page_creates_the_batch_and_opens_its_page(
    browser, investigator, django_capture_on_commit_callbacks
):
    page = browser.get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    for element in ('id="batch-upload-form"', 'id="batch-file"', 'id="batch-mapping"'):
        assert element in html
    assert 'id="nav-batches"' in html and 'enctype="multipart/form-data"' in html

    upload = SimpleUploadedFile("march.csv", f"{HEADER}\n{CALM}".encode(), "text/csv")
    with django_capture_on_commit_callbacks() as callbacks:
        response = browser.post(LIST, {"file": upload, "mode": "score"})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/batches/{batch.pk}/"
    assert (batch.source, batch.owner, batch.original_filename) == (
        "upload",
        investigator,
        "march.csv",
    )
    assert len(callbacks) == 1  # the worker task, queued on commit


@pytest.mark.django_db
def test_upload_with_saved_mapping_and_bad_uploads_show_the_reason(browser, batch_settings):
    ImportMapping.objects.create(
        name="semicolon-bank", mapping={"columns": {"id": "Ref", "amount": "Betrag"}}
    )
    text = "Ref;timestamp;account;Betrag\nM1;2026-03-01T10:00:00Z;AE-3;1.234,50\n"
    mapping = ImportMapping.objects.get()
    response = browser.post(
        LIST,
        {
            "file": SimpleUploadedFile("bank.csv", text.encode("latin-1")),
            "saved_mapping": mapping.pk,
            "mode": "import",
        },
    )
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert batch.mapping_name == "semicolon-bank" and batch.mode == "import"

    wrong = browser.post(
        LIST, {"file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n"), "mode": "score"}
    )
    assert wrong.status_code == 400
    assert "missing required column(s) &#x27;id&#x27;" in wrong.content.decode()
    assert 'id="batch-file-error"' in wrong.content.decode()

    batch_settings.SECUREFLOW_MAX_UPLOAD_MB = 1
    big = f"{HEADER}\n" + "B1,2026-03-01T10:00:00Z,C1,AE-1,B,1.00,AED,L,AE,web\n" * 25_000
    too_big = browser.post(
        LIST, {"file": SimpleUploadedFile("big.csv", big.encode()), "mode": "score"}
    )
    assert too_big.status_code == 400
    assert "largest accepted is 1 MB (SECUREFLOW_MAX_UPLOAD_MB)" in too_big.content.decode()
    assert ImportBatch.objects.count() == 1


@pytest.mark.django_db
def test_progress_polls_while_running_and_stops_with_the_results_when_done(browser, investigator):
    batch = import_batch_create(
        owner=investigator,
        source=BatchSource.UPLOAD,
        content=f"{HEADER}\n{CALM}{BURST}x1,never,C1,AE-1,,1,AED,L,AE,web\n".encode(),
        chunk_size=20,
        enqueue=False,
    )
    url = f"/batches/{batch.pk}/"
    full = browser.get(url).content.decode()
    assert "<html" in full and 'id="batch-progress"' in full
    assert 'hx-trigger="every 1s"' in full and f'hx-get="{url}"' in full
    assert 'id="batch-results-pending"' in full

    import_batch_prepare(batch_id=batch.pk)
    partial = browser.get(url, HTTP_HX_TARGET="batch-progress", **HTMX).content.decode()
    assert "<html" not in partial and partial.lstrip().startswith('<section id="batch-progress"')
    assert 'hx-trigger="every 1s"' in partial  # still running: keeps polling
    assert "chunk 0 of 4" in partial
    assert 'id="batch-rows-done">1<' in partial and 'id="batch-rows-total">66<' in partial

    import_batch_run(batch_id=batch.pk)
    final = browser.get(url, HTTP_HX_TARGET="batch-progress", **HTMX).content.decode()
    assert "hx-trigger" not in final.split('id="batch-results"')[0]  # polling stops
    assert 'value="100"' in final and 'data-status="done"' in final
    oob = re.search(r'<section id="batch-results"[^>]*>', final).group(0)
    assert 'hx-swap-oob="true"' in oob
    assert len(result_ids(final)) == 50  # the first page of results arrives with it
    assert 'id="count-rejected">1<' in final and "is not a valid date-time" in final
    assert f'href="/api/v1/batches/{batch.pk}/errors.csv"' in final


@pytest.mark.django_db
def test_results_table_filters_sorts_pages_and_expands_reasons(browser, investigator):
    batch = done_batch(investigator)
    url = f"/batches/{batch.pk}/"
    html = browser.get(url).content.decode()
    assert 'id="batch-results-table"' in html and 'id="results-pager"' in html
    first_page = result_ids(html)
    assert len(first_page) == 50 and first_page[0] == "P000"
    second = browser.get(url, {"page": 2}, HTTP_HX_TARGET="batch-results", **HTMX)
    partial = second.content.decode()
    assert partial.lstrip().startswith('<section id="batch-results"')
    assert len(result_ids(partial)) == 15 and "Page 2 of 2" in partial
    assert 'href="?page=1"' in partial and 'hx-get="?page=1"' in partial

    flagged = browser.get(url, {"flagged": "true"}).content.decode()
    ids = result_ids(flagged)
    assert ids and set(ids) >= {"Z2", "Z3", "Z4"}  # the burst trips the velocity rule
    assert all(i.startswith("Z") for i in ids)
    assert 'id="reasons-Z2"' in flagged and "<details" in flagged
    assert f'href="/api/v1/batches/{batch.pk}/results.csv?flagged=true"' in flagged

    # spread the stored risk scores (rules alone score 0) to sort and filter on them
    from detection.models import TransactionScore

    scores = TransactionScore.objects.filter(transaction__import_batch=batch).order_by("id")
    for n, score in enumerate(scores):
        TransactionScore.objects.filter(pk=score.pk).update(risk_score=((n * 37) % 65) / 100)
    risks = dict(scores.values_list("transaction__external_id", "risk_score"))

    by_risk = browser.get(url, {"sort": "-risk", "flagged": "true"}).content.decode()
    ordered = result_ids(by_risk)
    assert len(ordered) >= 3
    assert [risks[i] for i in ordered] == sorted((risks[i] for i in ordered), reverse=True)
    assert 'id="sort-risk" href="?flagged=true&sort=risk"' in by_risk

    narrow = browser.get(url, {"min_risk": 0.3, "max_risk": 0.5, "sort": "risk"}).content.decode()
    expected = sorted((r, i) for i, r in risks.items() if 0.3 <= r <= 0.5)
    assert result_ids(narrow) == [i for _, i in expected]
    assert f"{len(expected)} rows" in narrow
    bad = browser.get(url, {"min_risk": "lots"}).content.decode()
    assert 'id="results-filter-errors"' in bad


@pytest.mark.django_db
def test_results_csv_download_applies_the_page_filters(browser, investigator):
    batch = done_batch(investigator)
    response = browser.get(f"/api/v1/batches/{batch.pk}/results.csv", {"flagged": "true"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0] == "id,timestamp,account,amount,currency,risk_score,outcome,reasons,status"
    assert lines[1:] and all(line.startswith("Z") for line in lines[1:])


@pytest.mark.django_db
def test_pages_need_the_role_and_show_only_own_batches(make_user, investigator, admin_user_sf):
    mine = done_batch(investigator)
    other = make_user("olga", roles.INVESTIGATOR)
    theirs = done_batch(other)

    me = Client()
    me.force_login(investigator)
    listing = me.get(LIST).content.decode()
    assert f'id="batch-row-{mine.pk}"' in listing and f'id="batch-row-{theirs.pk}"' not in listing
    assert me.get(f"/batches/{theirs.pk}/").status_code == 404

    admin = Client()
    admin.force_login(admin_user_sf)
    listing = admin.get(LIST).content.decode()
    assert f'id="batch-row-{mine.pk}"' in listing and f'id="batch-row-{theirs.pk}"' in listing
    assert admin.get(f"/batches/{theirs.pk}/").status_code == 200

    nobody = Client()
    nobody.force_login(make_user("norole", None))
    assert nobody.get(LIST).status_code == 403
    assert nobody.get(f"/batches/{mine.pk}/").status_code == 403
    assert nobody.post(LIST, {"mode": "score"}).status_code == 403
    anonymous = Client()
    assert anonymous.get(LIST)["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_upload_needs_the_csrf_token(investigator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(investigator)
    upload = SimpleUploadedFile("march.csv", f"{HEADER}\n{CALM}".encode())
    assert client.post(LIST, {"file": upload, "mode": "score"}).status_code == 403
    assert not ImportBatch.objects.exists()


def test_an_oversized_upload_is_refused_before_its_body_is_read(make_user, settings):
    """413 from the declared length alone: the body (a multi-GB file) is never parsed to
    the temporary folder, not even by the CSRF check."""
    from io import BytesIO

    from django.test import Client

    settings.SECUREFLOW_MAX_UPLOAD_MB = 1
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("ivy"))
    body = BytesIO(b"x" * 16)  # what is sent; the declared length is what counts
    response = client.generic(
        "POST",
        "/batches/",
        data=body.getvalue(),
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(3 * 1024 * 1024),
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert "the largest file accepted is 1 MB (SECUREFLOW_MAX_UPLOAD_MB)" in html
    assert 'id="too-large"' in html

    api = client.generic(
        "POST",
        "/api/v1/batches/",
        data=b"[]",
        content_type="application/json",
        CONTENT_LENGTH=str(3 * 1024 * 1024),
    )
    assert api.status_code == 413
    assert api.json()["code"] == "request_too_large"
