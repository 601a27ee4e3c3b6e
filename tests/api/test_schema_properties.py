"""Property-based tests of the transactions and feedback API against its own OpenAPI schema.

schemathesis takes the schema that /api/schema/ serves (built by drf-spectacular's
generator, in process: the endpoint itself needs a signed-in client) and, against the WSGI
application (no network), generates requests for every operation under
/api/v1/transactions/ and /api/v1/feedback/: valid ones (positive mode) and ones that
break the schema (negative mode). Whatever it sends, the answer must not be a 5xx, its
status must be one the schema documents, and its body and content type must match the
schema for that status.
"""

import json
from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from secureflow.core.api_keys import api_key_create

MAX_EXAMPLES = 60
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def served_schema() -> dict:
    """The document /api/schema/?format=json answers (the view's generator and renderer)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


schema = schemathesis.openapi.from_dict(served_schema())
schema.app = get_wsgi_application()
schema = schema.include(path_regex=r"^/api/v1/(transactions|feedback)/")
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES
)


@pytest.fixture
def api_token(investigator) -> Iterator[str]:
    """A token; and, as Django's test client does, the WSGI handler keeps the test's
    database connection open between requests (it would close it after each one)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield api_key_create(user=investigator, name="tests").key
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_api_answers_as_its_schema_says(case, api_token):
    response = case.call(headers={"Authorization": f"Token {api_token}"})
    case.validate_response(response, checks=CHECKS)
