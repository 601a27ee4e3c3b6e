"""Fixtures for the workspace pages: users in every role, a small bank, fresh caches."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.test import Client

from detection.rules.cache import invalidate_rule_set
from detection.scoring.loader import reset_engine
from secureflow.core import roles
from transactions.models import Account, Customer, Transaction

DUBAI = ZoneInfo("Asia/Dubai")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def fresh_caches(settings, tmp_path):
    """Rules-only scoring (no trained model in this directory) and empty caches.

    The Django cache is a private in-memory one here: clearing a shared Redis would
    flush other test runs' keys."""
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "workspace-tests",
        },
    }
    cache.clear()
    reset_engine()
    invalidate_rule_set()
    yield
    cache.clear()
    reset_engine()
    invalidate_rule_set()


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def senior(make_user):
    return make_user("sam", roles.SENIOR_INVESTIGATOR)


@pytest.fixture
def nobody(make_user):
    return make_user("nora", role=None)


@pytest.fixture
def account(db) -> Account:
    customer = Customer.objects.create(external_id="C-100", name="Layla Haddad", home_country="AE")
    return Account.objects.create(customer=customer, number="AE-100-1", currency="AED")


@pytest.fixture
def other_account(db) -> Account:
    customer = Customer.objects.create(external_id="C-200", name="Omar Farouk", home_country="AE")
    return Account.objects.create(customer=customer, number="AE-200-1", currency="AED")


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=DUBAI)


def add_history(account: Account, amounts: list[str], *, start: datetime, step_days: int = 1):
    """Earlier transactions of `account`, one every `step_days` days from `start`."""
    first = Transaction.objects.count()
    rows = [
        Transaction(
            external_id=f"H-{account.number}-{first + i}",
            account=account,
            amount=Decimal(amount),
            transfer_type="L",
            country="AE",
            occurred_at=start + timedelta(days=i * step_days),
            status="approved",
        )
        for i, amount in enumerate(amounts)
    ]
    return Transaction.objects.bulk_create(rows)
