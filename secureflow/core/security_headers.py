"""Content-Security-Policy on every answer (`SECUREFLOW_CONTENT_SECURITY_POLICY`, and
`SECUREFLOW_CONTENT_SECURITY_POLICY_API_PAGES` for the API's HTML pages; their defaults
are in secureflow/settings/base.py).

The pages and Django admin load scripts, styles, fonts and images from this site only,
and run no inline script and no inline style, so a script or style planted in a page (a
value from a bank's export shown on a case, say, if escaping were ever missed) does not
run, nor can CSS selectors read the page out; and the pages cannot be framed by another
site. The bars of the case, check and dashboard pages are SVG (templates/core/_bar.html)
for that reason, and htmx is told not to add its own <style>. Admin's one inline <style>
is allowed by its hash.

The API's HTML pages (/api/docs/ and DRF's browsable API, both drawn by third-party code
that sets inline styles) get the same policy with inline styles allowed; scripts stay
refused there too.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
API_PREFIX = "/api/"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.SECUREFLOW_CONTENT_SECURITY_POLICY
        self.api_pages_policy = settings.SECUREFLOW_CONTENT_SECURITY_POLICY_API_PAGES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER in response:
            return response
        policy = self.policy
        if request.path_info.startswith(API_PREFIX) and response.get("Content-Type", "").startswith(
            "text/html"
        ):
            policy = self.api_pages_policy
        if policy:
            response[HEADER] = policy
        return response
