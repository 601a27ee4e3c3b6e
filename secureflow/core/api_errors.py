"""Every API error is JSON that says what went wrong, and a bad request is never a 500.

Shapes (also in the OpenAPI schema, added to every operation by `add_error_responses`):

* invalid input (400): `{"<field>": ["<reason>", ...], ...}` — one key per field, nested
  for nested fields; errors that concern no single field are under `non_field_errors`;
* everything else: `{"detail": "<reason>", "code": "<code>"}` — `parse_error` (malformed
  JSON or JSON nested too deeply, 400), `not_authenticated` (401), `permission_denied`
  (403), `not_found` (404), `method_not_allowed` (405), `unsupported_media_type` (415),
  `request_too_large` (413, with the largest body accepted), `throttled` (429, also
  `retry_after` seconds and a `Retry-After` header), `server_error` (500, logged with the
  traceback).

Django-level errors under /api/ (an unknown URL, a failure outside a view) are JSON too
through `handler404` / `handler500` in the root URLconf.
"""

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import (
    ValidationError as DjangoValidationError,
)
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("secureflow.api")

API_PREFIX = "/api/"
MB = 1024 * 1024


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def _size(size: int) -> str:
    return f"{size / MB:,.1f} MB" if size >= MB // 10 else f"{size / 1024:,.0f} KB"


def body_too_large() -> RequestTooLarge:
    """Django refused a body over DATA_UPLOAD_MAX_MEMORY_SIZE (every API body but a batch's,
    which has SECUREFLOW_MAX_UPLOAD_MB): say the limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return RequestTooLarge()
    return RequestTooLarge(
        f"The request body is too large; the largest accepted here is {_size(limit)}."
    )


class ServerError(exceptions.APIException):
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "Internal server error; it has been logged."
    default_code = "server_error"


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, RequestDataTooBig):
        return body_too_large()
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError(str(exc) or "Bad request.")
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    return exc


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: the shapes above for every exception a view raises."""
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        request = context.get("request")
        logger.error("Unhandled error in %s", getattr(request, "path", "an API view"), exc_info=exc)
        django_request = getattr(request, "_request", None)
        got_request_exception.send(sender=None, request=django_request)
        return Response(
            {"detail": ServerError.default_detail, "code": ServerError.default_code},
            status=ServerError.status_code,
        )
    if isinstance(exc, exceptions.ValidationError):
        if not isinstance(response.data, dict):
            response.data = {"non_field_errors": response.data}
        return response
    body: dict[str, Any] = {"detail": str(getattr(exc, "detail", "")), "code": _code(exc)}
    if isinstance(exc, exceptions.Throttled):
        retry_after = max(1, math.ceil(exc.wait or 0))
        body["retry_after"] = retry_after
        response["Retry-After"] = str(retry_after)
    response.data = body
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: JSON under /api/, the usual page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON under /api/, the usual page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {"detail": ServerError.default_detail, "code": ServerError.default_code},
            status=500,
        )
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: JSON under /api/, the usual page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


# -- OpenAPI ------------------------------------------------------------------------------

ERROR_SCHEMA = {
    "type": "object",
    "description": "What went wrong.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "required": ["detail", "code"],
}
THROTTLED_SCHEMA = {
    "type": "object",
    "description": "Too many requests from this client; retry after `retry_after` seconds.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "enum": ["throttled"]},
        "retry_after": {"type": "integer", "minimum": 1},
    },
    "required": ["detail", "code", "retry_after"],
}
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": (
        "Invalid input: each key names a field (`non_field_errors` for the request as a "
        "whole) and holds the reasons; malformed bodies get `detail` and `code`."
    ),
    "additionalProperties": {},
}
COMPONENTS = {
    "Error": ERROR_SCHEMA,
    "ThrottledError": THROTTLED_SCHEMA,
    "ValidationErrors": FIELD_ERRORS_SCHEMA,
}
BODY_METHODS = {"post", "put", "patch"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(description: str, schema_name: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema_name)}},
    }


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: document the error responses of every API
    operation (the ones it declares itself are kept)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in COMPONENTS.items():
        schemas.setdefault(name, schema)
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            errors = {
                "400": _response("Invalid input or malformed request.", "ValidationErrors"),
                "401": _response("No or invalid credentials.", "Error"),
                "403": _response("The user's role does not allow this.", "Error"),
                "406": _response(
                    "The Accept header asks for a format the API cannot give.", "Error"
                ),
                "429": _response("Too many requests from this client.", "ThrottledError"),
            }
            if "{" in path:
                errors["404"] = _response("No such object.", "Error")
            if method in BODY_METHODS:
                errors["413"] = _response("The request body is too large.", "Error")
                errors["415"] = _response("Unsupported Content-Type.", "Error")
            for code, response in errors.items():
                responses.setdefault(code, response)
    return result
