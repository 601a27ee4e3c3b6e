"""Refuse a request body larger than any SecureFlow accepts before anything reads it.

Django parses a multipart body (spooling its files to disk) as soon as something reads
`request.POST`, and the CSRF check does that before any view runs; so a size limit in the
upload view would come after a multi-gigabyte body had already been written to the
temporary folder. This middleware answers 413 from the declared length alone (a body
without a Content-Length is read as empty by Django): JSON under /api/, a page elsewhere.
The limit is the largest batch file, `SECUREFLOW_MAX_UPLOAD_MB`, plus room for the form's
other fields.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

MB = 1024 * 1024
FORM_OVERHEAD = MB  # the form's other fields and the multipart boundaries


def max_upload_bytes() -> int:
    """The largest batch file or JSON batch body (SECUREFLOW_MAX_UPLOAD_MB)."""
    return int(settings.SECUREFLOW_MAX_UPLOAD_MB) * MB


def body_too_large(request: HttpRequest) -> str | None:
    """The reason to refuse the request's body for its size (None when it may be read)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None  # Django reads a body with an unreadable length as empty
    if length <= max_upload_bytes() + FORM_OVERHEAD:
        return None
    return (
        f"The request is {length / MB:,.1f} MB; the largest file accepted is "
        f"{settings.SECUREFLOW_MAX_UPLOAD_MB} MB (SECUREFLOW_MAX_UPLOAD_MB)."
    )


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        reason = body_too_large(request)
        if reason is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": reason, "code": "request_too_large"}, status=413)
        return render(request, "core/too_large.html", {"reason": reason}, status=413)
