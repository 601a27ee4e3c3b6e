"""Cases test data: flagged transactions with stored scores, and people in every role."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from cases.models import Case
from cases.services import case_open_for_score
from detection.models import TransactionScore
from secureflow.core import roles
from transactions.models import Account, Counterparty, Customer, Transaction

STATUS_FOR_OUTCOME = {"approve": "approved", "review": "in_review", "block": "blocked"}


@pytest.fixture
def senior(make_user):
    return make_user("sam", roles.SENIOR_INVESTIGATOR)


@pytest.fixture
def colleague(make_user):
    return make_user("bob", roles.INVESTIGATOR)


@pytest.fixture
def customer_account(db):
    customer = Customer.objects.create(external_id="C-100", name="Mariam Haddad", home_country="AE")
    account = Account.objects.create(customer=customer, number="AE-100")
    return customer, account


@pytest.fixture
def make_score(customer_account):
    """A transaction with a stored decision (no case yet)."""
    counter = itertools.count(1)
    _, default_account = customer_account

    def _make(
        *,
        outcome: str = "review",
        risk: float = 0.7,
        amount: str = "1000.00",
        rules: tuple[str, ...] = ("amount_limit_Q",),
        account: Account | None = None,
        occurred_at=None,
        counterparty: Counterparty | None = None,
    ) -> TransactionScore:
        n = next(counter)
        txn = Transaction.objects.create(
            external_id=f"T-{n:05d}",
            account=account or default_account,
            counterparty=counterparty,
            amount=Decimal(amount),
            transfer_type="Q",
            country="AE",
            channel="mobile",
            occurred_at=occurred_at or timezone.now() - timedelta(minutes=n),
            status=STATUS_FOR_OUTCOME[outcome],
        )
        hits = [
            {
                "code": code,
                "severity": "block" if outcome == "block" else "review",
                "reason": f"Rule {code} was hit",
                "observed": 1.0,
                "limit": 0.0,
            }
            for code in rules
        ]
        return TransactionScore.objects.create(
            transaction=txn,
            risk_score=risk,
            outcome=outcome,
            rule_hits=hits,
            reasons=[hit["reason"] for hit in hits] + ["Amount is 9.3× this account's average"],
            contributions=[
                {
                    "feature": "amount_ratio_to_mean",
                    "label": "Amount vs average",
                    "value": 9.3,
                    "contribution": 0.42,
                    "sentence": "Amount is 9.3× this account's average",
                },
                {
                    "feature": "hour_of_day",
                    "label": "Hour of day",
                    "value": 3.0,
                    "contribution": -0.05,
                    "sentence": "At 03:00",
                },
            ],
        )

    return _make


@pytest.fixture
def make_case(make_score):
    def _make(**kwargs) -> Case:
        case = case_open_for_score(score=make_score(**kwargs))
        assert case is not None
        return case

    return _make
