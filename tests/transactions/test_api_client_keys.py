"""Idempotency-Keys of POST /api/v1/transactions/ belong to the client that sent them;
transaction ids are the bank's, one for all clients. Who sent a transaction is kept."""

import threading

import pytest
from django.db import connection
from django.db.models import ProtectedError
from rest_framework.test import APIClient

from detection.models import TransactionScore
from secureflow.core.api_keys import api_key_create
from transactions import services
from transactions.models import Transaction

URL = "/api/v1/transactions/"


def body(txn_id: str = "T-1", **overrides: object) -> dict:
    data = {
        "id": txn_id,
        "timestamp": "2026-03-01T10:15:00Z",
        "account": "AE-ACC-1",
        "customer": "C-1",
        "counterparty": "BEN-9",
        "amount": "250.50",
        "currency": "AED",
        "transfer_type": "L",
        "country": "AE",
        "channel": "mobile",
    }
    data.update(overrides)
    return data


def post(client: APIClient, data: dict, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(URL, data, format="json", **headers)


@pytest.mark.django_db
def test_two_clients_may_use_the_same_key_for_their_own_transactions(token_client):
    switch, online = token_client("card-switch"), token_client("online-banking")

    assert post(switch, body("SW-1"), key="1").status_code == 201
    assert post(online, body("OB-1", amount="75.00"), key="1").status_code == 201

    # each client's retry finds its own transaction, not the other's
    replay = post(online, body("OB-1", amount="75.00"), key="1")
    assert replay.status_code == 200
    assert replay.json()["transaction"] == "OB-1"
    assert post(switch, body("SW-1"), key="1").json()["transaction"] == "SW-1"

    stored = dict(
        Transaction.objects.values_list("external_id", "submitted_by__username").order_by("id")
    )
    assert stored == {"SW-1": "card-switch", "OB-1": "online-banking"}
    assert set(Transaction.objects.values_list("idempotency_key", flat=True)) == {"1"}
    assert TransactionScore.objects.count() == 2


@pytest.mark.django_db
def test_a_key_reused_by_its_own_client_for_another_transaction_is_409(token_client):
    switch, online = token_client("card-switch"), token_client("online-banking")
    assert post(switch, body("SW-1"), key="k-7").status_code == 201

    conflict = post(switch, body("SW-2"), key="k-7")

    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_conflict"
    assert conflict.json()["transaction"] == "SW-1"
    # the other client's k-7 is another key: its transaction is stored
    assert post(online, body("SW-2"), key="k-7").status_code == 201
    assert Transaction.objects.get(external_id="SW-2").submitted_by.username == "online-banking"


@pytest.mark.django_db
def test_the_bank_wide_id_replays_for_any_client_and_conflicts_on_another_body(token_client):
    switch, online = token_client("card-switch"), token_client("online-banking")
    assert post(switch, body("T-9"), key="sw-key").status_code == 201

    # the same transaction sent by another system of the bank, under its own key
    same = post(online, body("T-9"), key="ob-key")
    assert same.status_code == 200
    assert same.json()["transaction"] == "T-9"
    # its own client retrying under another key is told so
    assert post(switch, body("T-9"), key="sw-other").status_code == 409
    # another body for the bank's id is a conflict for every client
    assert post(online, body("T-9", amount="999.00")).status_code == 409

    txn = Transaction.objects.get()
    assert (txn.submitted_by.username, txn.idempotency_key) == ("card-switch", "sw-key")


@pytest.mark.django_db
def test_lists_say_and_filter_who_sent_each_transaction(token_client, investigator):
    switch, online = token_client("card-switch"), token_client("online-banking")
    assert post(switch, body("SW-1")).status_code == 201
    assert post(online, body("OB-1", amount="75.00")).status_code == 201

    listed = switch.get(URL, {"submitted_by": "online-banking"}).json()["results"]
    assert [(row["id"], row["submitted_by"]) for row in listed] == [("OB-1", "online-banking")]
    assert switch.get(f"{URL}SW-1/").json()["submitted_by"] == "card-switch"
    # the same filter on the investigators' list page
    from django.test import Client

    page = Client()
    page.force_login(investigator)
    html = page.get("/transactions/", {"submitted_by": "card-switch"}).content.decode()
    assert 'name="submitted_by"' in html
    assert "SW-1" in html and "OB-1" not in html


@pytest.mark.django_db
def test_the_submitting_user_is_kept_and_cannot_be_deleted(make_user):
    user = make_user("card-switch")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_create(user=user, name='tests').key}")
    assert post(client, body("T-1")).status_code == 201
    assert Transaction.objects.get().submitted_by == user

    with pytest.raises(ProtectedError):
        user.delete()


@pytest.mark.django_db
def test_the_api_key_a_transaction_came_with_is_kept_shown_and_filtered(make_user, investigator):
    user = make_user("card-switch")
    old, new = (
        api_key_create(user=user, name="switch, old"),
        api_key_create(user=user, name="switch, new"),
    )
    clients = {}
    for issued in (old, new):
        clients[issued.api_key.name] = APIClient()
        clients[issued.api_key.name].credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
    assert post(clients["switch, old"], body("K-OLD")).status_code == 201
    assert post(clients["switch, new"], body("K-NEW", amount="80.00")).status_code == 201
    # a replay through the other key is the same transaction: it keeps the key it came with
    assert post(clients["switch, new"], body("K-OLD")).status_code == 200

    sent = dict(Transaction.objects.values_list("external_id", "submitted_key__name"))
    assert sent == {"K-OLD": "switch, old", "K-NEW": "switch, new"}
    api = clients["switch, new"]
    assert api.get(f"{URL}K-OLD/").json()["submitted_key"] == old.api_key.prefix
    assert old.key.startswith(old.api_key.prefix) and len(old.api_key.prefix) < len(old.key)
    listed = api.get(URL, {"submitted_key": new.api_key.prefix}).json()["results"]
    assert [row["id"] for row in listed] == ["K-NEW"]

    # a case's page names the key (its first characters and its name, never the key)
    from cases.services import case_open_for_score
    from tests.workspace.conftest import login

    score = TransactionScore.objects.get(transaction__external_id="K-OLD")
    score.outcome = "review"  # as if the decision had flagged it
    case = case_open_for_score(score=score)
    html = login(investigator).get(f"/cases/{case.pk}/").content.decode()
    assert f"{old.api_key.prefix}…</span> (switch, old)" in html
    assert old.key not in html

    # a key that sent transactions is revoked, not deleted
    with pytest.raises(ProtectedError):
        old.api_key.delete()
    assert Transaction.objects.filter(submitted_key__isnull=True).count() == 0  # all by API


@pytest.mark.django_db
def test_a_key_needs_the_client_that_sent_it():
    data = {**body("T-1"), "timestamp": "2026-03-01T10:15:00+00:00"}
    from transactions.api.serializers import submission_validated

    with pytest.raises(ValueError, match="Idempotency-Key"):
        services.transaction_submit(data=submission_validated(data), idempotency_key="k", user=None)
    assert not Transaction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_two_clients_with_one_key(postgres_required, make_user):
    """PostgreSQL, real threads: two clients each retry their own transaction 4 times at
    once under the same key spelling; one more request reuses a client's key for another
    transaction. Each client gets one row; the reuse is a conflict or loses nothing."""
    tokens = {
        name: api_key_create(user=make_user(name), name="tests").key
        for name in ("card-switch", "online-banking")
    }
    jobs = [("card-switch", body("SW-1"))] * 4 + [("online-banking", body("OB-1"))] * 4
    jobs.append(("card-switch", body("SW-2", amount="10.00")))
    barrier = threading.Barrier(len(jobs))
    answers: list[tuple[str, str, int]] = []

    def send(name: str, data: dict) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[name]}")
            barrier.wait(timeout=10)
            response = post(client, data, key="retry-1")
            answers.append((name, data["id"], response.status_code))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == len(jobs)
    rows = dict(Transaction.objects.values_list("external_id", "submitted_by__username"))
    assert rows.get("OB-1") == "online-banking"
    ob = sorted(status for name, _, status in answers if name == "online-banking")
    assert ob == [200, 200, 200, 201]
    # the card switch's key went to SW-1 or to SW-2, whichever was first; the other of
    # its requests for the loser were conflicts, and only the winner was stored
    switch_rows = sorted(txn for txn, name in rows.items() if name == "card-switch")
    assert switch_rows in (["SW-1"], ["SW-2"])
    winner = switch_rows[0]
    for name, txn_id, status in answers:
        if name == "card-switch":
            if txn_id == winner:
                assert status in (200, 201)
            else:
                assert status == 409
    assert sum(1 for n, t, s in answers if n == "card-switch" and s == 201) == 1
    assert TransactionScore.objects.count() == 2
