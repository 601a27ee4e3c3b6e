"""Settings: rule limits and outcome thresholds. Admins edit in place; investigators read."""

from itertools import groupby

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods

from detection.models import RuleCategory, RuleLimit
from detection.rules.defaults import DEFAULT_LIMITS
from detection.services import rule_limit_update
from secureflow.core import roles
from secureflow.core.permissions import admin_required, investigator_required
from secureflow.workspace.forms import RuleLimitForm
from secureflow.workspace.selectors import rule_limit_history, rule_limits_for_settings

CATEGORY_HELP = {
    RuleCategory.THRESHOLD: "Risk-score cut-offs: at or above review sends a transaction to "
    "review, at or above block stops it.",
    RuleCategory.VELOCITY: "How many transfers one account may make in a short window.",
    RuleCategory.AMOUNT: "Largest single transfer of each type before review.",
    RuleCategory.MONTHLY: "Most one account may send in a calendar month.",
    RuleCategory.DYNAMIC: "Amounts far above what this account usually sends.",
}
SHIPPED_ORDER = {limit.code: i for i, limit in enumerate(DEFAULT_LIMITS)}
CATEGORY_ORDER = [
    RuleCategory.THRESHOLD,
    RuleCategory.VELOCITY,
    RuleCategory.AMOUNT,
    RuleCategory.MONTHLY,
    RuleCategory.DYNAMIC,
]


def _subscriptions_url() -> str | None:
    try:
        return reverse("alerts:subscriptions")
    except NoReverseMatch:
        return None


def _limit_or_404(code: str) -> RuleLimit:
    limit = rule_limits_for_settings().filter(code=code).first()
    if limit is None:
        raise Http404("No such limit.")
    return limit


def _groups(limits: list[RuleLimit]) -> list[dict]:
    """Limits by category, in the order the rules apply them (30 s before 10 min ...)."""
    limits = sorted(limits, key=lambda r: (r.category, SHIPPED_ORDER.get(r.code, 99), r.code))
    by_category = {
        category: list(rows) for category, rows in groupby(limits, key=lambda r: r.category)
    }
    return [
        {
            "category": category,
            "label": RuleCategory(category).label,
            "help": CATEGORY_HELP.get(category, ""),
            "limits": by_category[category],
        }
        for category in CATEGORY_ORDER + sorted(set(by_category) - set(CATEGORY_ORDER))
        if category in by_category
    ]


@investigator_required
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    """Every limit with its current value and the change history (?limit=code filters
    the history; with HTMX only the history is sent)."""
    code = request.GET.get("limit", "")
    history = rule_limit_history(code=code)
    if request.htmx and request.GET.get("part") == "history":
        return render(
            request,
            "workspace/partials/_limit_history.html",
            {"history": history, "history_code": code},
        )
    limits = list(rule_limits_for_settings())
    return render(
        request,
        "workspace/settings.html",
        {
            "groups": _groups(limits),
            "all_limits": limits,
            "history": history,
            "history_code": code,
            "can_edit": roles.is_admin(request.user),
            "subscriptions_url": _subscriptions_url(),
        },
    )


@investigator_required
@require_GET
def limit_row(request: HttpRequest, code: str) -> HttpResponse:
    """One limit's row (HTMX: cancel an edit)."""
    limit = _limit_or_404(code)
    if not request.htmx:
        return redirect(f"{reverse('workspace:settings')}#limit-{limit.code}")
    return render(
        request,
        "workspace/partials/_limit_row.html",
        {"limit": limit, "can_edit": roles.is_admin(request.user)},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def limit_edit(request: HttpRequest, code: str) -> HttpResponse:
    """Edit one limit (admins): inline with HTMX, a small page without. A change goes
    through detection.services.rule_limit_update (history row, rule cache reload)."""
    limit = _limit_or_404(code)
    template = (
        "workspace/partials/_limit_edit_row.html" if request.htmx else "workspace/limit_edit.html"
    )
    if request.method == "GET":
        return render(request, template, {"limit": limit, "form": RuleLimitForm(limit=limit)})
    form = RuleLimitForm(request.POST, limit=limit)
    if form.is_valid():
        try:
            limit = rule_limit_update(
                limit=limit,
                value=form.cleaned_data["value"],
                enabled=form.cleaned_data["enabled"],
                severity=form.cleaned_data["severity"],
                changed_by=request.user,
                note=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            for name, errors in getattr(error, "message_dict", {"__all__": error.messages}).items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            limit = _limit_or_404(code)
            if not request.htmx:
                messages.success(request, f"{limit.name} changed.")
                return redirect(f"{reverse('workspace:settings')}#limit-{limit.code}")
            return render(
                request,
                "workspace/partials/_limit_saved.html",
                {
                    "limit": limit,
                    "can_edit": True,
                    "history": rule_limit_history(),
                    "history_code": "",
                    "saved": True,
                },
            )
    return render(request, template, {"limit": limit, "form": form}, status=422)
