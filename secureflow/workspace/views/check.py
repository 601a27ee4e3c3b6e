"""Check a transaction: form, decision in place, actions on the decision."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from secureflow.core.idempotency import IdempotencyConflict
from secureflow.core.permissions import investigator_required
from secureflow.workspace.forms import (
    CheckActionForm,
    CheckForm,
    local_now_input,
    new_submission_id,
)
from secureflow.workspace.presenters import check_result
from secureflow.workspace.selectors import account_search, checked_transaction, counterparty_search
from secureflow.workspace.services import check_action_record
from transactions.models import Transaction
from transactions.services import transaction_submit

FORM_FIELDS = (
    "account",
    "amount",
    "transfer_type",
    "country",
    "counterparty",
    "counterparty_country",
    "channel",
    "occurred_at",
)


def _initial(source: Any, **defaults: Any) -> dict[str, Any]:
    initial = {"country": "AE", "occurred_at": local_now_input(), **defaults}
    for name in FORM_FIELDS:
        if source.get(name):
            initial[name] = source.get(name)
    return initial


def _page(
    request: HttpRequest,
    form: CheckForm,
    *,
    query: str,
    submission_id: str,
    result: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "workspace/check.html",
        {
            "form": form,
            "query": query,
            "submission_id": submission_id,
            "result": result,
            "action_form": CheckActionForm(),
        },
        status=status,
    )


@investigator_required
@require_http_methods(["GET", "POST"])
def check(request: HttpRequest) -> HttpResponse:
    """The form (GET; ?q= narrows the account list without JavaScript) and its submission
    (POST): stored and scored through transaction_submit, like the API. With HTMX the
    decision replaces the result panel; without, the browser lands on the result page."""
    if request.method == "GET":
        query = request.GET.get("q", "").strip()
        accounts = account_search(query=query, selected=request.GET.get("account", ""))
        initial = _initial(request.GET)
        if query and accounts and "account" not in request.GET:
            initial["account"] = accounts[0].number
        form = CheckForm(initial=initial, accounts=accounts)
        return _page(request, form, query=query, submission_id=new_submission_id())

    query = request.POST.get("q", "").strip()
    form = CheckForm(request.POST)
    submission_id = request.POST.get("submission_id") or new_submission_id()
    if form.is_valid():
        try:
            txn, _score, _created = transaction_submit(data=form.submission(), user=request.user)
        except IdempotencyConflict:
            form.add_error(
                None,
                "This form was already submitted with other values. "
                "Check the values and submit again.",
            )
            submission_id = new_submission_id()
        except ValidationError as error:
            for name, errors in getattr(error, "message_dict", {"__all__": error.messages}).items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            if not request.htmx:
                return redirect("workspace:check-result", external_id=txn.external_id)
            txn = checked_transaction(external_id=txn.external_id)
            response = render(
                request,
                "workspace/partials/_check_submitted.html",
                {
                    "result": check_result(txn=txn, user=request.user),
                    "action_form": CheckActionForm(),
                    "next_submission_id": new_submission_id(),
                },
            )
            response["HX-Push-Url"] = reverse(
                "workspace:check-result", kwargs={"external_id": txn.external_id}
            )
            return response
    form.set_accounts(account_search(query=query, selected=request.POST.get("account", "")))
    if request.htmx:
        response = render(
            request,
            "workspace/partials/_check_form.html",
            {"form": form, "query": query, "submission_id": submission_id},
            status=422,
        )
        return reswap(retarget(response, "#check-form"), "outerHTML")
    return _page(request, form, query=query, submission_id=submission_id, status=422)


def _transaction_or_404(external_id: str) -> Transaction:
    try:
        return checked_transaction(external_id=external_id)
    except Transaction.DoesNotExist as missing:
        raise Http404("No such transaction.") from missing


@investigator_required
@require_GET
def check_result_page(request: HttpRequest, external_id: str) -> HttpResponse:
    """A checked transaction's decision, with the form ready for the next check."""
    txn = _transaction_or_404(external_id)
    account = txn.account
    form = CheckForm(
        initial=_initial({}, account=account.number, country=txn.country or "AE"),
        accounts=account_search(selected=account.number, limit=1),
    )
    return _page(
        request,
        form,
        query="",
        submission_id=new_submission_id(),
        result=check_result(txn=txn, user=request.user),
    )


@investigator_required
@require_POST
def check_action(request: HttpRequest, external_id: str) -> HttpResponse:
    """Confirm / approve anyway / reject, recorded with who, when and why."""
    txn = _transaction_or_404(external_id)
    action_form = CheckActionForm(request.POST)
    status = 200
    if action_form.is_valid():
        kind = action_form.cleaned_data["kind"]
        try:
            record = check_action_record(
                txn=txn,
                kind=kind,
                actor=request.user,
                reason=action_form.cleaned_data["reason"],
            )
        except PermissionDenied as refused:
            if not request.htmx:
                raise
            action_form.add_error(None, str(refused))
            status = 403
        except ValidationError as error:
            for name, errors in getattr(error, "message_dict", {"__all__": error.messages}).items():
                action_form.add_error(name if name in action_form.fields else None, errors)
            status = 422
        else:
            if not request.htmx:
                messages.success(request, f"{record.get_kind_display()}: {txn.external_id}.")
                return redirect("workspace:check-result", external_id=txn.external_id)
            txn = checked_transaction(external_id=external_id)
            action_form = CheckActionForm()
    else:
        status = 422
    result = check_result(txn=txn, user=request.user)
    if request.htmx:
        return render(
            request,
            "workspace/partials/_check_actions.html",
            {"result": result, "action_form": action_form},
            status=status,
        )
    return render(
        request,
        "workspace/check.html",
        {
            "form": CheckForm(
                initial=_initial({}, account=txn.account.number),
                accounts=account_search(selected=txn.account.number, limit=1),
            ),
            "query": "",
            "submission_id": new_submission_id(),
            "result": result,
            "action_form": action_form,
        },
        status=status,
    )


@investigator_required
@require_GET
def account_options(request: HttpRequest) -> HttpResponse:
    """The account select narrowed to what the search box says (HTMX, as you type)."""
    query = request.GET.get("q", "").strip()
    if not request.htmx:
        return redirect(f"{reverse('workspace:check')}?{urlencode({'q': query})}")
    current = request.GET.get("account", "")
    accounts = account_search(query=query) if query else account_search(selected=current)
    selected = accounts[0].number if query and accounts else current
    form = CheckForm(initial={"account": selected}, accounts=accounts)
    return render(
        request,
        "workspace/partials/_account_field.html",
        {"form": form, "query": query, "matches": len(accounts)},
    )


@investigator_required
@require_GET
def counterparty_options(request: HttpRequest) -> HttpResponse:
    """Suggestions for the counterparty box (a datalist; free text stays allowed)."""
    return render(
        request,
        "workspace/partials/_counterparty_options.html",
        {"counterparties": counterparty_search(query=request.GET.get("counterparty", ""))},
    )
