"""Batch pages for investigators: upload a file, follow its progress, read its results.

Each view serves its full page and, for HTMX requests, the partial the request targets
(`batch-progress` polls while the batch runs; `batch-results` is the filtered, sorted,
paged table). Every hx-get link also has a real href.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from secureflow.core.permissions import investigator_required
from transactions.batches.reading import BatchInputError, load_mapping_bytes, mapping_with_options
from transactions.batches.selectors import batch_transactions, batches_visible_to
from transactions.batches.services import import_batch_create
from transactions.choices import BatchFormat, BatchSource
from transactions.csv_schema import ColumnMapping
from transactions.filtersets import BatchResultFilterSet
from transactions.forms import BatchUploadForm
from transactions.models import ImportBatch

RESULTS_PER_PAGE = 50
POLL_SECONDS = 1


@investigator_required
@require_http_methods(["GET", "POST"])
def batch_list(request: HttpRequest) -> HttpResponse:
    """The upload form and the batches the user may see (admins: all)."""
    form = BatchUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        batch = _create_batch(request, form)
        if batch is not None:
            messages.success(request, f"Batch {batch.pk} queued: {batch.original_filename}.")
            return redirect("transactions:batch_detail", pk=batch.pk)
    batches = batches_visible_to(request.user)[:50]
    status = 400 if request.method == "POST" else 200
    return render(
        request, "transactions/batch_list.html", {"form": form, "batches": batches}, status=status
    )


def _create_batch(request: HttpRequest, form: BatchUploadForm) -> ImportBatch | None:
    data = form.cleaned_data
    upload = data["file"]
    saved = data.get("saved_mapping")
    try:
        if data.get("mapping_file"):
            base = load_mapping_bytes(data["mapping_file"].read())
        elif saved is not None:
            base = mapping_with_options(saved.mapping)
        else:
            base = ColumnMapping()
        mapping = mapping_with_options(
            base, delimiter=data.get("delimiter") or None, decimal=data.get("decimal") or None
        )
        return import_batch_create(
            owner=request.user,
            source=BatchSource.UPLOAD,
            content=upload,
            input_format=BatchFormat.CSV,
            original_filename=upload.name or "",
            mapping=mapping,
            mapping_name=saved.name if saved is not None else "",
            mode=data["mode"],
        )
    except BatchInputError as exc:
        field = {"mapping": "mapping_file", "file": "file"}.get(exc.field, exc.field)
        form.add_error(field if field in form.fields else None, exc.message)
        return None


@investigator_required
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A batch: its progress (polled while it runs) and its results table."""
    batch = get_object_or_404(batches_visible_to(request.user), pk=pk)
    filterset = BatchResultFilterSet(request.GET, queryset=batch_transactions(batch).order_by("id"))
    rows = filterset.qs if filterset.is_valid() else batch_transactions(batch).none()
    page = Paginator(rows, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "batch": batch,
        "filterset": filterset,
        "page": page,
        "query": query.urlencode(),
        "sort_query": _without(request, "sort", "page"),
        "sort": request.GET.get("sort", ""),
        "poll_seconds": POLL_SECONDS,
        "detail_url": reverse("transactions:batch_detail", kwargs={"pk": batch.pk}),
        "results_url": reverse("batch-results", kwargs={"pk": batch.pk, "format": "csv"}),
        "errors_url": reverse("batch-errors", kwargs={"pk": batch.pk, "format": "csv"}),
    }
    if request.htmx and not request.htmx.boosted:
        if request.htmx.target == "batch-progress":
            return render(request, "transactions/partials/_batch_progress.html", context)
        if request.htmx.target == "batch-results":
            return render(request, "transactions/partials/_batch_results.html", context)
    return render(request, "transactions/batch_detail.html", context)


def _without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()
