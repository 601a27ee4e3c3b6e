"""Signed-in sessions end after `SESSION_COOKIE_AGE` seconds without a request
(`SECUREFLOW_SESSION_IDLE_MINUTES`).

A session's expiry is pushed back when it is saved; saving it on every request would add a
write to every page and HTMX partial. `SessionRenewalMiddleware` saves it at most once per
renewal interval (a tenth of the idle time, at most a minute), so a session ends between
`idle - interval` and `idle` after its last request."""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

RENEWED_KEY = "_secureflow_renewed_at"
MAX_RENEWAL_INTERVAL_S = 60


def renewal_interval() -> int:
    return min(MAX_RENEWAL_INTERVAL_S, settings.SESSION_COOKIE_AGE // 10)


def session_renew(session: Any) -> None:
    """Mark the session renewed now (saving it pushes its expiry back)."""
    session[RENEWED_KEY] = int(time.time())


def on_user_logged_in(sender: object, request: HttpRequest, user: object, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        session_renew(request.session)


class SessionRenewalMiddleware:
    """After SessionMiddleware: renews a session that holds data (a signed-in user) when
    its last renewal is older than the renewal interval."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not session.is_empty():
            renewed_at = session.get(RENEWED_KEY, 0)
            if time.time() - renewed_at >= renewal_interval():
                session_renew(session)
        return response
