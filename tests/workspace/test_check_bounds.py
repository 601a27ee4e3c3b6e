"""The check page accepts the same transaction times as the API (1970-01-02 to 2199-12-31)
and shows the reason beside the field, never a 500."""

import re

import pytest

from secureflow.workspace.forms import CheckForm
from tests.workspace.conftest import HTMX, login
from tests.workspace.test_check import URL, form_data
from transactions.models import Transaction

RANGE_MESSAGE = "between 1970-01-02 and 2199-12-31"


@pytest.mark.parametrize(
    "occurred_at",
    ["0001-01-01T00:00", "0001-01-01 00:00:00", "1900-01-01T10:00", "1969-12-31T23:59"],
)
def test_times_before_1970_are_refused_beside_the_field(investigator, account, occurred_at):
    client = login(investigator)

    full = client.post(URL, form_data(account, occurred_at=occurred_at))
    assert full.status_code == 422
    errors = re.findall(
        r'<p class="error" id="error-occurred_at">([^<]*)</p>', full.content.decode()
    )
    assert any(RANGE_MESSAGE in e for e in errors), errors

    partial = client.post(URL, form_data(account, occurred_at=occurred_at), **HTMX)
    assert partial.status_code == 422
    assert 'id="error-occurred_at"' in partial.content.decode()
    assert RANGE_MESSAGE in partial.content.decode()
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("occurred_at", ["1970-01-01T12:00", "2999-01-01T10:00"])
def test_form_refuses_times_outside_the_api_range(account, occurred_at):
    form = CheckForm(form_data(account, occurred_at=occurred_at))
    assert not form.is_valid()
    assert list(form.errors) == ["occurred_at"], form.errors


@pytest.mark.parametrize("occurred_at", ["1970-01-03T00:00", "2026-03-20T12:00"])
def test_form_accepts_times_the_api_accepts(account, occurred_at):
    form = CheckForm(form_data(account, occurred_at=occurred_at))
    assert form.is_valid(), form.errors
