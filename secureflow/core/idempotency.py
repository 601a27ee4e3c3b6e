"""The `Idempotency-Key` header of the API's POST operations: a client's retry of a request
it already sent (a timeout, a dropped connection) carries the same key and gets the stored
answer instead of a second row."""

import re

from django.db.models import Model
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 128
# printable ASCII, no spaces at either end (surrounding spaces are stripped first)
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[!-~](?:[ -~]*[!-~])?")


class IdempotencyConflict(Exception):
    """An id or Idempotency-Key was already used for a different request; `existing` is
    what it stored."""

    def __init__(self, message: str, *, existing: Model) -> None:
        super().__init__(message)
        self.message = message
        self.existing = existing


def idempotency_key_from(request: Request) -> str | None:
    """The request's Idempotency-Key (surrounding spaces stripped), None when it has none;
    a 400 naming the header when the key is too long or not printable ASCII."""
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ValidationError(
            {
                IDEMPOTENCY_HEADER: [
                    f"Ensure this header has no more than {IDEMPOTENCY_KEY_MAX_LENGTH} characters."
                ]
            }
        )
    if key and not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise ValidationError({IDEMPOTENCY_HEADER: ["Use printable ASCII characters only."]})
    return key or None


def idempotency_key_parameter(description: str) -> OpenApiParameter:
    """The header as documented in the OpenAPI schema."""
    return OpenApiParameter(
        IDEMPOTENCY_HEADER,
        {
            "type": "string",
            "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
            "pattern": "^[!-~]([ -~]*[!-~])?$",
        },
        OpenApiParameter.HEADER,
        required=False,
        description=description,
    )


def idempotency_conflict(message: str, **stored: object) -> Response:
    """409: the key (or id) was used for a different body; `stored` names what it holds."""
    return Response(
        {"detail": message, "code": "idempotency_conflict", **stored},
        status=status.HTTP_409_CONFLICT,
    )
