"""The investigator's case queue and case page (server-rendered, HTMX-enhanced).

Each page view serves the full page and, for an HTMX request that is not boosted, just
the part HTMX swaps. Every action is a POST form that works without JavaScript (redirect
after POST); with HTMX the same view answers with the updated part.
"""

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from cases.choices import CaseAction
from cases.filtersets import ACTIVE, DEFAULT_SORT, CaseFilterSet
from cases.forms import BulkActionForm, CaseActionForm
from cases.models import Case
from cases.presenters import case_page_context, queue_rows, sort_links
from cases.selectors import case_for_page, case_queue, case_queue_counts, investigators
from cases.services import (
    BulkResult,
    CaseActionInvalid,
    CaseChanged,
    CaseError,
    CasePermissionDenied,
    case_assign,
    case_claim,
    case_claim_next,
    case_decide,
    case_note_add,
    case_reopen,
    cases_bulk_assign,
    cases_bulk_close,
)
from secureflow.core.filter_form import filter_fields
from secureflow.core.permissions import investigator_required

PAGE_SIZE = 50
QUEUE_DEFAULTS = {"status": ACTIVE, "sort": DEFAULT_SORT}
STATUS_FOR_ERROR = {CaseChanged: 409, CasePermissionDenied: 403, CaseActionInvalid: 400}


def _is_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


# -- queue -------------------------------------------------------------------------------
def _queue_query(query: QueryDict) -> QueryDict:
    data = query.copy()
    for key, value in QUEUE_DEFAULTS.items():
        if key not in data:
            data[key] = value
    return data


def _queue_context(request: HttpRequest, query: QueryDict) -> dict[str, Any]:
    data = _queue_query(query)
    filterset = CaseFilterSet(data, queryset=case_queue(), request=request)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(query.get("page"))
    without_page = data.copy()
    without_page.pop("page", None)
    mine = without_page.copy()
    mine["assignee"] = "me"
    everyone = without_page.copy()
    everyone.pop("assignee", None)
    now = timezone.now()
    return {
        "filterset": filterset,
        "filter_fields": filter_fields(filterset.form),
        "page": page,
        "rows": queue_rows(list(page.object_list), now=now),
        "query": without_page.urlencode(),
        "sort": data.get("sort") or DEFAULT_SORT,
        "sort_links": sort_links(without_page),
        "tab": "mine" if data.get("assignee") == "me" else "all",
        "mine_url": f"{reverse('cases:queue')}?{mine.urlencode()}",
        "all_url": f"{reverse('cases:queue')}?{everyone.urlencode()}",
        "counts": case_queue_counts(user=request.user),
        "investigators": list(investigators()),
        "now": now,
    }


def _render_queue(request: HttpRequest, query: QueryDict) -> HttpResponse:
    context = _queue_context(request, query)
    template = "cases/partials/_queue_swap.html" if _is_partial(request) else "cases/queue.html"
    return render(request, template, context)


@investigator_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    return _render_queue(request, request.GET)


@investigator_required
@require_POST
def claim_next(request: HttpRequest) -> HttpResponse:
    case = case_claim_next(actor=request.user)
    if case is None:
        messages.info(request, "There is no unassigned case you can claim right now.")
        return redirect("cases:queue")
    messages.success(request, f"You claimed case {case.pk}.")
    return redirect("cases:detail", pk=case.pk)


def _safe_next(request: HttpRequest, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return reverse("cases:queue")


def _bulk_messages(request: HttpRequest, verb: str, result: BulkResult) -> None:
    if result.done:
        ids = ", ".join(str(pk) for pk in result.done)
        messages.success(request, f"{verb} {len(result.done)} case(s): {ids}.")
    for pk, reason in result.skipped:
        messages.warning(request, f"Case {pk} was not changed: {reason}")


@investigator_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    form = BulkActionForm(request.POST)
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == BulkActionForm.ASSIGN:
                result = cases_bulk_assign(
                    selections=data["cases"],
                    assignee=data["assignee"],
                    actor=request.user,
                    note=data["note"],
                )
                _bulk_messages(request, f"Assigned to {data['assignee'].get_username()}", result)
            else:
                result = cases_bulk_close(
                    selections=data["cases"],
                    actor=request.user,
                    resolution=data["resolution"],
                    note=data["note"],
                )
                _bulk_messages(request, "Closed", result)
        except CaseError as error:
            messages.error(request, error.message)
            status = STATUS_FOR_ERROR.get(type(error), 400)
    else:
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, error if field == "__all__" else f"{field}: {error}")
        status = 400
    next_url = _safe_next(request, request.POST.get("next", ""))
    if _is_partial(request):
        query = QueryDict(next_url.partition("?")[2])
        response = _render_queue(request, query)
        response.status_code = status
        return response
    return redirect(next_url)


# -- one case ----------------------------------------------------------------------------
def _render_case(
    request: HttpRequest,
    case: Case,
    *,
    error: str = "",
    form: CaseActionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    partial = _is_partial(request)
    context = case_page_context(request, case, full_page=not partial)
    context.update({"error": error, "form": form})
    template = "cases/partials/_case_panel.html" if partial else "cases/detail.html"
    return render(request, template, context, status=status)


@investigator_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        case = case_for_page(case_id=pk)
    except Case.DoesNotExist:
        raise Http404("No such case.") from None
    return _render_case(request, case)


SUCCESS = {
    CaseAction.APPROVE: "Approved: the transaction is legitimate.",
    CaseAction.REJECT: "Rejected: confirmed fraud.",
    CaseAction.ESCALATE: "Escalated to the senior investigators.",
    CaseAction.NOTE: "Note added.",
    CaseAction.CLAIM: "You claimed this case.",
    CaseAction.ASSIGN: "Case assigned.",
    CaseAction.REOPEN: "Case reopened.",
}


def _perform(request: HttpRequest, case: Case, data: dict[str, Any]) -> None:
    action, version, note = data["action"], data["version"], data["note"] or ""
    actor = request.user
    if action in (CaseAction.APPROVE, CaseAction.REJECT, CaseAction.ESCALATE):
        case_decide(case=case, actor=actor, action=action, note=note, expected_version=version)
    elif action == CaseAction.NOTE:
        case_note_add(case=case, actor=actor, note=note, expected_version=version)
    elif action == CaseAction.CLAIM:
        case_claim(case=case, actor=actor, expected_version=version)
    elif action == CaseAction.ASSIGN:
        case_assign(
            case=case,
            actor=actor,
            assignee=data["assignee"],
            expected_version=version,
            note=note,
        )
    elif action == CaseAction.REOPEN:
        case_reopen(case=case, actor=actor, note=note, expected_version=version)


@investigator_required
@require_POST
def action(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(Case, pk=pk)
    form = CaseActionForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(
            str(error) for field_errors in form.errors.values() for error in field_errors
        )
        return _render_case(request, case_for_page(case_id=pk), error=errors, form=form, status=400)
    try:
        _perform(request, case, form.cleaned_data)
    except CaseError as error:
        status = STATUS_FOR_ERROR.get(type(error), 400)
        # A stale page gets the fresh case to review; the typed note is kept.
        keep = form if not isinstance(error, CaseChanged) else _fresh_form(form)
        return _render_case(
            request, case_for_page(case_id=pk), error=error.message, form=keep, status=status
        )
    messages.success(request, SUCCESS[form.cleaned_data["action"]])
    if _is_partial(request):
        return _render_case(request, case_for_page(case_id=pk))
    return redirect("cases:detail", pk=pk)


def _fresh_form(form: CaseActionForm) -> CaseActionForm:
    """The investigator's typed note survives a conflict; the version does not."""
    return CaseActionForm(initial={"note": form.cleaned_data.get("note", "")})
