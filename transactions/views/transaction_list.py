"""The transaction list: every stored transaction with its decision, filtered by the
same FilterSet as `GET /api/v1/transactions/`, newest first, in keyset pages (a page deep
in the list costs what the first one costs), and the filtered rows as CSV.

One view serves the full page and, for HTMX requests, the results with the filter form
swapped out of band (its errors shown beside the fields)."""

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from secureflow.core.filter_form import filter_fields
from secureflow.core.pagination import InvalidCursor, keyset_page
from secureflow.core.permissions import investigator_required
from transactions.batches.results import csv_lines
from transactions.exports import EXPORT_COLUMNS, EXPORT_MAX_ROWS, export_records
from transactions.filtersets import TransactionFilterSet
from transactions.presenters import list_url, transaction_rows
from transactions.selectors import transactions_for_list

PAGE_SIZE = 50
ORDERING = ("-occurred_at", "-id")
FILTER_NAMES = tuple(TransactionFilterSet.base_filters)


@investigator_required
@require_GET
def transaction_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.copy()
    for name in list(query):
        if name not in (*FILTER_NAMES, "cursor"):
            del query[name]  # `format` and anything else not a filter stay out of links
    filterset = TransactionFilterSet(query, queryset=transactions_for_list())
    valid = filterset.is_valid()
    if request.GET.get("format") == "csv" and valid:
        return _export(filterset)
    page = None
    cursor_error = ""
    if valid:
        try:
            page = keyset_page(
                filterset.qs, ordering=ORDERING, cursor=query.get("cursor"), limit=PAGE_SIZE
            )
        except InvalidCursor:
            cursor_error = "This page link is not valid: showing the newest transactions."
            page = keyset_page(filterset.qs, ordering=ORDERING, cursor=None, limit=PAGE_SIZE)
    context = {
        "filter_fields": filter_fields(filterset.form),
        "valid": valid,
        "rows": transaction_rows(page.rows, query=query) if page else [],
        "first_page": page is not None and not page.has_previous,
        "next_url": list_url(query, cursor=page.next_cursor) if page and page.has_next else "",
        "previous_url": list_url(query, cursor=page.previous_cursor)
        if page and page.has_previous
        else "",
        "first_url": list_url(query),
        "export_url": list_url(query, format="csv"),
        "export_max_rows": EXPORT_MAX_ROWS,
        "cursor_error": cursor_error,
        "filtered": any(query.get(name) for name in FILTER_NAMES),
    }
    partial = bool(request.htmx) and not request.htmx.boosted
    template = (
        "transactions/partials/_transaction_list_swap.html"
        if partial
        else "transactions/transaction_list.html"
    )
    return render(request, template, context, status=200 if valid else 400)


def _export(filterset: TransactionFilterSet) -> StreamingHttpResponse:
    rows = filterset.qs.order_by(*ORDERING)[:EXPORT_MAX_ROWS]
    response = StreamingHttpResponse(
        csv_lines(EXPORT_COLUMNS, export_records(rows)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="transactions-{stamp}.csv"'
    return response
