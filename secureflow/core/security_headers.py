"""Content-Security-Policy on every answer (`SECUREFLOW_CONTENT_SECURITY_POLICY`, its default
in secureflow/settings/base.py).

The pages, Django admin and the API docs load scripts, styles, fonts and images from this
site only and run no inline script, so a script planted in a page (a value from a bank's
export shown on a case, say, if escaping were ever missed) does not run, and the pages
cannot be framed by another site. Inline `style` attributes stay allowed: the bars of the
case and dashboard pages set their widths with them."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.SECUREFLOW_CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and HEADER not in response:
            response[HEADER] = self.policy
        return response
