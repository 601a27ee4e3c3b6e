"""The labels page (/cases/labels/): a file of chargebacks and confirmations uploaded by an
investigator, checked at once and imported by a Celery task (run in this process here);
its page names the bad rows by line and column, and good rows are stored once."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.models import FeedbackLabel, LabelImport
from tests.workspace.conftest import login
from transactions.models import Account, Customer, Transaction

URL = "/cases/labels/"
HEADER = "transaction_id,label,reported_at,source,note\n"


@pytest.fixture
def stored(db):
    customer = Customer.objects.create(external_id="C-1", name="Layla Haddad")
    account = Account.objects.create(customer=customer, number="AE-1")
    for n in (1, 2, 3):
        Transaction.objects.create(
            external_id=f"TX-{n}",
            account=account,
            amount=Decimal("250.00"),
            transfer_type="Q",
            country="AE",
            channel="web",
            occurred_at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        )


@pytest.fixture
def run_imports(eager_celery, django_capture_on_commit_callbacks):
    """Upload a file and follow it to its import's page, the import run by then."""

    def _upload(client, content: bytes | str, *, source: str = "chargeback", name="cb.csv"):
        data = content.encode() if isinstance(content, str) else content
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(URL, {"file": SimpleUploadedFile(name, data), "source": source})
        if response.status_code != 302:
            return response
        return client.get(response["Location"])

    return _upload


@pytest.mark.django_db
def test_the_page_needs_a_signed_in_investigator(client, make_user):
    assert client.get(URL).status_code == 302
    assert login(make_user("nobody", role=None)).get(URL).status_code == 403
    page = login(make_user()).get(URL)
    assert page.status_code == 200
    assert b'id="labels-upload-form"' in page.content
    assert b'id="nav-labels"' in page.content


@pytest.mark.django_db
def test_good_rows_are_stored_and_bad_rows_named(stored, investigator, run_imports):
    content = (
        HEADER
        + "TX-1,chargeback,2026-03-05T09:00:00+04:00,,CB 4837\n"
        + "TX-2,legitimate,2026-03-06,customer_confirmation,called back\n"
        + "TX-404,fraud,2026-03-05T09:00:00Z,,\n"
        + "TX-3,maybe,2026-03-05T09:00:00Z,,\n"
        + "TX-3,fraud,2026-03-05T09:00:00Z,case_decision,\n"
    )

    response = run_imports(login(investigator), content)

    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-status="done"' in text and "hx-trigger" not in text  # no more polling
    assert "5 rows: 2 labels stored, 0 already present, 3 rejected." in text
    assert "no transaction &#x27;TX-404&#x27;" in text
    assert "&#x27;maybe&#x27; is not fraud or legitimate" in text
    assert "&#x27;case_decision&#x27; is not one of chargeback, customer_confirmation, api" in text
    labels = {label.transaction.external_id: label for label in FeedbackLabel.objects.all()}
    assert set(labels) == {"TX-1", "TX-2"}
    assert labels["TX-1"].is_fraud and labels["TX-1"].source == "chargeback"
    assert labels["TX-1"].note == "CB 4837"
    assert labels["TX-1"].known_at == datetime(2026, 3, 5, 5, 0, tzinfo=UTC)
    assert not labels["TX-2"].is_fraud and labels["TX-2"].source == "customer_confirmation"
    assert labels["TX-2"].created_by == investigator
    job = LabelImport.objects.get()
    assert (job.rows_total, job.errors_total, job.file_path) == (5, 3, "")
    listing = login(investigator).get(URL).content.decode()
    assert 'id="labels-recent"' in listing and "CB 4837" in listing
    assert 'id="labels-imports"' in listing and f"/cases/labels/imports/{job.pk}/" in listing


@pytest.mark.django_db
def test_the_same_file_again_stores_nothing(stored, investigator, run_imports):
    content = HEADER + "TX-1,fraud,2026-03-05T09:00:00Z,,\nTX-2,fraud,2026-03-05T09:00:00Z,,\n"
    client = login(investigator)
    run_imports(client, content)

    again = run_imports(client, content)

    assert "2 rows: 0 labels stored, 2 already present, 0 rejected." in again.content.decode()
    assert FeedbackLabel.objects.count() == 2


@pytest.mark.django_db
def test_rows_without_a_source_take_the_chosen_one(stored, investigator, run_imports):
    run_imports(login(investigator), HEADER + "TX-1,no,2026-03-05T09:00:00Z,,\n", source="api")

    assert FeedbackLabel.objects.get().source == "api"


@pytest.mark.django_db
def test_a_windows_1252_file_keeps_its_notes(stored, investigator, run_imports):
    content = (HEADER + "TX-1;fraud;2026-03-05T09:00:00Z;;Kunde bestätigt – 50 €\n").replace(
        ",", ";"
    )

    response = run_imports(login(investigator), content.encode("cp1252"))

    assert response.status_code == 200
    assert FeedbackLabel.objects.get().note == "Kunde bestätigt – 50 €"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "source", "message"),
    [
        ("transaction_id,label\nTX-1,fraud\n", "chargeback", "missing column(s) reported_at"),
        ("", "chargeback", "The submitted file is empty."),
        (HEADER + "TX-1,fraud,2026-03-05,,\n", "case_decision", "Select a valid choice."),
        (b"transaction_id,label,reported_at\n\x81\x8d,fraud,2026-03-05\n", "chargeback", "neither"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(
    stored, investigator, run_imports, content, source, message
):
    response = run_imports(login(investigator), content, source=source)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert FeedbackLabel.objects.count() == 0
    assert not LabelImport.objects.exists()


@pytest.mark.django_db
def test_an_upload_without_the_csrf_token_is_refused(stored, investigator, run_imports):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(investigator)

    response = run_imports(client, HEADER + "TX-1,fraud,2026-03-05T09:00:00Z,,\n")

    assert response.status_code == 403
    assert FeedbackLabel.objects.count() == 0
    assert not LabelImport.objects.exists()
