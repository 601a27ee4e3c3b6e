"""Remembered content negotiation chooses what DRF chooses, and stays bounded."""

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from secureflow.core import negotiation
from secureflow.core.negotiation import CachedContentNegotiation

factory = APIRequestFactory()


def choose(negotiator, accept: str | None, path: str = "/api/v1/transactions/"):
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    renderers = [JSONRenderer(), BrowsableAPIRenderer()]
    request = Request(factory.get(path, **extra))
    renderer, media_type = negotiator.select_renderer(request, renderers)
    return renderers.index(renderer), media_type


@pytest.fixture(autouse=True)
def empty_table():
    negotiation._chosen.clear()
    yield
    negotiation._chosen.clear()


@pytest.mark.parametrize(
    ("accept", "path"),
    [
        (None, "/api/v1/transactions/"),
        ("*/*", "/api/v1/transactions/"),
        ("application/json", "/api/v1/transactions/"),
        ("application/json; indent=4", "/api/v1/transactions/"),
        ("text/html", "/api/v1/transactions/"),
        ("text/html;q=0.5, application/json", "/api/v1/transactions/"),
        ("application/*", "/api/v1/transactions/"),
        ("text/html", "/api/v1/transactions/?format=api"),
        ("*/*", "/api/v1/transactions/?format=api"),
        ("*/*", "/api/v1/transactions/?format=json"),
    ],
)
def test_same_choice_as_drf_first_and_when_remembered(accept, path):
    expected = choose(DefaultContentNegotiation(), accept, path)
    cached = CachedContentNegotiation()
    assert choose(cached, accept, path) == expected
    assert len(negotiation._chosen) == 1
    assert choose(cached, accept, path) == expected  # from the table
    assert len(negotiation._chosen) == 1


def test_indent_parameter_kept_and_headers_told_apart():
    cached = CachedContentNegotiation()
    assert choose(cached, "application/json; indent=4") == (0, "application/json; indent=4")
    assert choose(cached, "application/json") == (0, "application/json")
    assert choose(cached, "text/html") == (1, "text/html")
    assert choose(cached, "*/*") == (0, "application/json")


def test_refusals_are_not_remembered():
    cached = CachedContentNegotiation()
    for _ in range(2):
        with pytest.raises(NotAcceptable):
            choose(cached, "image/png")
    assert negotiation._chosen == {}


def test_table_stays_bounded_and_long_headers_are_not_kept():
    cached = CachedContentNegotiation()
    for i in range(negotiation.MAX_REMEMBERED * 2 + 3):
        assert choose(cached, f"application/json; v={i}") == (0, f"application/json; v={i}")
        assert len(negotiation._chosen) <= negotiation.MAX_REMEMBERED
    long_header = "text/x-other, " * (negotiation.MAX_REMEMBERED_HEADER // 10) + "application/json"
    negotiation._chosen.clear()
    assert choose(cached, long_header)[0] == 0
    assert negotiation._chosen == {}


@pytest.mark.django_db
def test_api_answers_in_the_negotiated_format(investigator_api):
    for _ in range(2):
        plain = investigator_api.get("/api/v1/transactions/", HTTP_ACCEPT="application/json")
        assert plain.status_code == 200
        assert plain["Content-Type"] == "application/json"
        indented = investigator_api.get(
            "/api/v1/transactions/", HTTP_ACCEPT="application/json; indent=4"
        )
        assert b'\n    "' in indented.content
        assert b'\n    "' not in plain.content
        html = investigator_api.get("/api/v1/transactions/", HTTP_ACCEPT="text/html")
        assert html["Content-Type"].startswith("text/html")
        refused = investigator_api.get("/api/v1/transactions/", HTTP_ACCEPT="image/png")
        assert refused.status_code == 406
