"""Sign-in forms of the pages and of Django admin, with failed sign-ins limited
(secureflow/core/sign_in_limits.py)."""

import math
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from secureflow.core.client_address import client_address
from secureflow.core.sign_in_limits import (
    sign_in_failed,
    sign_in_locked_for,
    sign_in_succeeded,
)

LOCKED_OUT = "locked_out"


class SignInLimitMixin:
    """Refuses a sign-in while its username (at this address or everywhere) or its address
    is locked out; counts each wrong password (or, in admin, a user who may not use it) and
    clears the username's count at this address on success."""

    request: Any
    cleaned_data: dict[str, Any]
    locked_out_message = (
        "Too many failed sign-ins for this username or from this address. Try again in %(minutes)s."
    )

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        if username and (wait := sign_in_locked_for(username, address)):
            raise forms.ValidationError(
                self.locked_out_message,
                code=LOCKED_OUT,
                params={"minutes": _minutes(wait)},
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError as error:
            if username and getattr(error, "code", None) == "invalid_login":
                sign_in_failed(username, address)
            raise
        if username:
            sign_in_succeeded(username, address)
        return cleaned

    @property
    def locked_out(self) -> bool:
        return any(e.code == LOCKED_OUT for e in self.non_field_errors().as_data())


def _minutes(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class SignInForm(SignInLimitMixin, AuthenticationForm):
    """The pages' sign-in form."""


class AdminSignInForm(SignInLimitMixin, AdminAuthenticationForm):
    """Django admin's sign-in form (staff only, as admin's own)."""
