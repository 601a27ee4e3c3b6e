from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from secureflow.core import roles


def _case_counts(user: object) -> dict[str, int]:
    """Active, overdue and the user's own cases, in one query on the case indexes."""
    from cases.choices import ACTIVE_STATUSES
    from cases.models import Case

    return Case.objects.filter(status__in=ACTIVE_STATUSES).aggregate(
        open=Count("id"),
        overdue=Count("id", filter=Q(sla_due_at__lt=timezone.now())),
        mine=Count("id", filter=Q(assignee_id=getattr(user, "pk", None))),
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Landing page: where to go next for the user's roles (cases, checks, dashboard,
    settings), with the case counts that say how urgent the queue is."""
    user_roles = roles.user_roles(request.user)
    is_investigator = roles.is_investigator(request.user)
    return render(
        request,
        "core/home.html",
        {
            "roles": sorted(user_roles),
            "is_investigator": is_investigator,
            "is_admin": roles.is_admin(request.user),
            "cases": _case_counts(request.user) if is_investigator else None,
        },
    )
