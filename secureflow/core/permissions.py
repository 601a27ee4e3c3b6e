"""Role checks for DRF views and Django views."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import user_passes_test
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from secureflow.core import roles


class IsInvestigator(BasePermission):
    message = "This needs the Investigator or Admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return roles.is_investigator(request.user)


class IsSecureflowAdmin(BasePermission):
    message = "This needs the Admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return roles.is_admin(request.user)


def investigator_required(view: Callable) -> Callable:
    """Login required, then the Investigator (or higher) role; 403 otherwise."""
    return user_passes_test(_check_investigator)(view)


def admin_required(view: Callable) -> Callable:
    return user_passes_test(_check_admin)(view)


def _check_investigator(user: Any) -> bool:
    if not user.is_authenticated:
        return False
    if not roles.is_investigator(user):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("This page needs the Investigator or Admin role.")
    return True


def _check_admin(user: Any) -> bool:
    if not user.is_authenticated:
        return False
    if not roles.is_admin(user):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("This page needs the Admin role.")
    return True
