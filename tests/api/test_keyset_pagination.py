"""The transaction list's pages: read from where the previous page ended (keyset)."""

import base64
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from secureflow.core.pagination import keyset_after
from transactions.models import Account, Customer, Transaction

URL = "/api/v1/transactions/"
START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _stored(account: Account, count: int, *, prefix: str, times: list[datetime]) -> None:
    Transaction.objects.bulk_create(
        Transaction(
            external_id=f"{prefix}-{i}",
            account=account,
            amount=Decimal("10.00"),
            currency="AED",
            occurred_at=times[i % len(times)],
            received_at=START,
        )
        for i in range(count)
    )


@pytest.fixture
def account(db) -> Account:
    customer = Customer.objects.create(external_id="C-PAGE")
    return Account.objects.create(number="AE-PAGE-1", customer=customer)


def _walk(client, params: dict) -> tuple[list[str], int]:
    """Every id the `next` links lead to, in order, and the number of pages."""
    ids: list[str] = []
    response = client.get(URL, params)
    pages = 0
    while True:
        assert response.status_code == 200, response.content
        pages += 1
        page = response.json()
        assert set(page) == {"next", "previous", "results"}
        ids += [row["id"] for row in page["results"]]
        if page["next"] is None:
            return ids, pages
        response = client.get(page["next"])


def _newest_first(queryset) -> list[str]:
    return list(queryset.order_by("-occurred_at", "-id").values_list("external_id", flat=True))


@pytest.mark.django_db
def test_pages_hold_every_row_once_in_order_when_times_repeat(investigator_api, account):
    # 23 rows over 4 distinct times: pages of 5 cut through runs of equal times
    times = [START + timedelta(minutes=m) for m in (0, 0, 5, 9)]
    _stored(account, 23, prefix="P", times=times)

    ids, pages = _walk(investigator_api, {"limit": "5"})

    assert ids == _newest_first(Transaction.objects.all())
    assert len(ids) == len(set(ids)) == 23
    assert pages == 5


@pytest.mark.django_db
def test_a_full_last_page_has_no_next(investigator_api, account):
    _stored(account, 10, prefix="F", times=[START + timedelta(seconds=s) for s in range(10)])

    ids, pages = _walk(investigator_api, {"limit": "5"})

    assert pages == 2 and len(ids) == 10


@pytest.mark.django_db
def test_next_keeps_the_filters_and_the_page_size(investigator_api, account):
    other = Account.objects.create(number="AE-PAGE-2", customer=account.customer)
    _stored(account, 7, prefix="A", times=[START + timedelta(seconds=s) for s in range(7)])
    _stored(other, 6, prefix="B", times=[START + timedelta(seconds=s) for s in range(6)])

    first = investigator_api.get(URL, {"account": "AE-PAGE-2", "limit": "4"}).json()
    query = parse_qs(urlparse(first["next"]).query)
    assert query["account"] == ["AE-PAGE-2"] and query["limit"] == ["4"]

    ids, _ = _walk(investigator_api, {"account": "AE-PAGE-2", "limit": "4"})
    assert ids == [f"B-{i}" for i in range(5, -1, -1)]


@pytest.mark.django_db
def test_rows_stored_while_paging_do_not_shift_the_rest(investigator_api, account):
    _stored(account, 9, prefix="S", times=[START + timedelta(seconds=s) for s in range(9)])
    first = investigator_api.get(URL, {"limit": "3"}).json()
    # newer rows (as a live bank adds them) and one older row, between two pages
    _stored(account, 4, prefix="NEW", times=[START + timedelta(hours=1)])
    _stored(account, 1, prefix="OLD", times=[START - timedelta(hours=1)])

    rest, _ = _walk(investigator_api, {"limit": "3", "cursor": _cursor_of(first["next"])})

    assert [row["id"] for row in first["results"]] == ["S-8", "S-7", "S-6"]
    assert rest == ["S-5", "S-4", "S-3", "S-2", "S-1", "S-0", "OLD-0"]


def _pages(client, url: str, params: dict | None, link: str) -> list[dict]:
    """The pages met following `link` ("next" or "previous") from `url` to its end."""
    pages = [client.get(url, params).json()]
    while pages[-1][link] is not None:
        pages.append(client.get(pages[-1][link]).json())
    return pages


def _ids(page: dict) -> list[str]:
    return [row["id"] for row in page["results"]]


@pytest.mark.django_db
def test_previous_links_lead_back_through_the_same_pages(investigator_api, account):
    # 23 rows over 4 distinct times: page edges fall inside runs of equal times
    times = [START + timedelta(minutes=m) for m in (0, 0, 5, 9)]
    _stored(account, 23, prefix="P", times=times)

    forward = _pages(investigator_api, URL, {"limit": "5"}, "next")
    back = _pages(investigator_api, forward[-1]["previous"], None, "previous")

    assert forward[0]["previous"] is None
    assert [_ids(page) for page in back] == [_ids(page) for page in reversed(forward[:-1])]
    assert back[-1]["previous"] is None  # the first page, reached backwards
    # a page read backwards links forward to the page after it
    assert [_ids(investigator_api.get(page["next"]).json()) for page in back] == [
        _ids(page) for page in reversed(forward[1:])
    ]


@pytest.mark.django_db
def test_previous_keeps_the_filters_and_the_page_size(investigator_api, account):
    other = Account.objects.create(number="AE-PAGE-2", customer=account.customer)
    _stored(account, 7, prefix="A", times=[START + timedelta(seconds=s) for s in range(7)])
    _stored(other, 6, prefix="B", times=[START + timedelta(seconds=s) for s in range(6)])
    second = investigator_api.get(
        investigator_api.get(URL, {"account": "AE-PAGE-2", "limit": "4"}).json()["next"]
    ).json()

    query = parse_qs(urlparse(second["previous"]).query)
    assert query["account"] == ["AE-PAGE-2"] and query["limit"] == ["4"]
    assert _ids(investigator_api.get(second["previous"]).json()) == ["B-5", "B-4", "B-3", "B-2"]


@pytest.mark.django_db
def test_a_page_past_the_end_links_back_to_the_last_rows(investigator_api, account):
    _stored(account, 6, prefix="E", times=[START + timedelta(seconds=s) for s in range(6)])
    oldest = Transaction.objects.get(external_id="E-0")

    page = investigator_api.get(
        URL, {"limit": "4", "cursor": _encoded([oldest.occurred_at.isoformat(), oldest.pk])}
    ).json()

    assert page["results"] == [] and page["next"] is None
    last = investigator_api.get(page["previous"]).json()
    assert _ids(last) == ["E-3", "E-2", "E-1", "E-0"] and last["next"] is None
    assert _ids(investigator_api.get(last["previous"]).json()) == ["E-5", "E-4"]


@pytest.mark.django_db
def test_reading_back_from_the_newest_row_gives_an_empty_page_leading_to_the_start(
    investigator_api, account
):
    _stored(account, 3, prefix="N", times=[START + timedelta(seconds=s) for s in range(3)])
    newest = Transaction.objects.get(external_id="N-2")
    before = _encoded({"before": [newest.occurred_at.isoformat(), newest.pk]})

    page = investigator_api.get(URL, {"limit": "2", "cursor": before}).json()

    assert page["results"] == [] and page["previous"] is None
    assert "cursor" not in parse_qs(urlparse(page["next"]).query)
    assert _ids(investigator_api.get(page["next"]).json()) == ["N-2", "N-1"]


def _cursor_of(url: str) -> str:
    return parse_qs(urlparse(url).query)["cursor"][0]


def _encoded(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "%%%",
        _encoded({"at": "2026-03-01T10:00:00+00:00"}),
        _encoded(["2026-03-01T10:00:00+00:00"]),
        _encoded(["2026-03-01T10:00:00+00:00", 5, 6]),
        _encoded(["2026-03-01T10:00:00", 5]),  # no time zone
        _encoded(["yesterday", 5]),
        _encoded(["2026-03-01T10:00:00+00:00", "five"]),
        _encoded(["2026-03-01T10:00:00+00:00", 10**30]),
        _encoded(["2026-03-01T10:00:00+00:00", True]),
        _encoded(["2026-03-01T10:00:00+00:00", None]),
        _encoded(["0001-01-01T00:00:00+01:00", 5]),  # before year 1 in UTC
        _encoded([["2026-03-01T10:00:00+00:00"], 5]),
        _encoded({"before": "2026-03-01T10:00:00+00:00"}),
        _encoded({"before": ["2026-03-01T10:00:00+00:00"]}),
        _encoded({"before": ["2026-03-01T10:00:00", 5]}),  # no time zone
        _encoded({"before": ["2026-03-01T10:00:00+00:00", 5], "after": 1}),
        _encoded({"after": ["2026-03-01T10:00:00+00:00", 5]}),
        "A" * 201,
    ],
)
def test_a_bad_cursor_is_a_400_naming_it(investigator_api, account, cursor):
    response = investigator_api.get(URL, {"cursor": cursor})

    assert response.status_code == 400, response.content
    assert "cursor" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("limit", ["0", "-3", "many", "1.5"])
def test_a_bad_limit_is_a_400_naming_it(investigator_api, limit):
    response = investigator_api.get(URL, {"limit": limit})

    assert response.status_code == 400, response.content
    assert "limit" in response.json()


@pytest.mark.django_db
def test_an_offset_is_refused_rather_than_ignored(investigator_api, account):
    # a client written for offsets would otherwise read the first page forever
    response = investigator_api.get(URL, {"offset": "50"})

    assert response.status_code == 400
    assert "next" in response.json()["offset"][0]


@pytest.mark.django_db
def test_the_page_size_is_capped_at_1000(investigator_api, account):
    _stored(account, 1002, prefix="C", times=[START + timedelta(seconds=s) for s in range(1002)])

    page = investigator_api.get(URL, {"limit": "5000"}).json()

    assert len(page["results"]) == 1000
    assert parse_qs(urlparse(page["next"]).query)["limit"] == ["5000"]
    assert len(investigator_api.get(page["next"]).json()["results"]) == 2


@pytest.mark.django_db
def test_a_deep_page_runs_the_same_queries_as_the_first(
    investigator_api, account, django_assert_max_num_queries
):
    _stored(account, 60, prefix="Q", times=[START + timedelta(seconds=s // 2) for s in range(60)])
    first = investigator_api.get(URL, {"limit": "10"}).json()
    for _ in range(4):
        first = investigator_api.get(first["next"]).json()

    with django_assert_max_num_queries(6):
        deep = investigator_api.get(first["next"])
    assert len(deep.json()["results"]) == 10


@pytest.mark.django_db
def test_keyset_after_matches_tuple_order_in_both_directions(account):
    rng = random.Random(4)
    times = [START + timedelta(seconds=rng.randrange(6)) for _ in range(40)]
    _stored(account, 40, prefix="K", times=times)
    rows = list(Transaction.objects.values_list("occurred_at", "id"))
    for pivot in rng.sample(rows, 12):
        for ordering, after in (
            (("-occurred_at", "-id"), lambda row, p=pivot: row < p),
            (("occurred_at", "id"), lambda row, p=pivot: row > p),
            (("occurred_at", "-id"), lambda row, p=pivot: (row[0], -row[1]) > (p[0], -p[1])),
        ):
            found = set(
                Transaction.objects.filter(keyset_after(ordering, pivot)).values_list(
                    "occurred_at", "id"
                )
            )
            assert found == {row for row in rows if after(row)}, (ordering, pivot)


@pytest.mark.django_db
def test_rows_show_their_decision_or_null_when_never_scored(investigator_api, account):
    posted = investigator_api.post(
        URL,
        {
            "id": "SCORED-1",
            "timestamp": "2026-03-02T09:00:00Z",
            "account": "AE-PAGE-1",
            "customer": "C-PAGE",
            "amount": "120.00",
        },
        format="json",
    )
    assert posted.status_code == 201, posted.content
    _stored(account, 1, prefix="UNSCORED", times=[START])

    rows = {row["id"]: row for row in investigator_api.get(URL).json()["results"]}

    assert rows["UNSCORED-0"]["score"] is None
    decision = posted.json()
    score = rows["SCORED-1"]["score"]
    assert score["risk_score"] == decision["risk_score"]
    assert score["outcome"] == decision["outcome"]
    assert score["reasons"] == decision["reasons"]
    assert score["model_versions"] == decision["model_versions"]
    assert investigator_api.get(f"{URL}SCORED-1/").json()["score"] == score
