from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from secureflow.core import roles


@login_required
def home(request: HttpRequest) -> HttpResponse:
    from transactions.selectors import bank_totals

    return render(
        request,
        "core/home.html",
        {"totals": bank_totals(), "roles": sorted(roles.user_roles(request.user))},
    )
