"""The OpenAPI schema and its interactive docs, for signed-in users with a role.

The schema shows the API's shape, not data, but it is served only to those who may call
the API: a token or a session, and any SecureFlow role (SPECTACULAR_SETTINGS'
SERVE_PERMISSIONS). A browser that is not signed in is sent to the sign-in page from the
docs, as from every other page."""

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served as a file (no inline script: CSP)."""

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        if isinstance(exc, NotAuthenticated | AuthenticationFailed):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)
