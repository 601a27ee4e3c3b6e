"""The labels page: upload a file of what the bank learned (chargebacks, customer
confirmations), follow its import, and see the labels recorded last. The page checks the
file's encoding and header at once and a Celery worker imports the rows
(cases/label_imports.py), read as `manage.py import_labels` reads them: bad rows are
listed with their line, column and reason, good rows are stored, and a row already stored
is not stored again."""

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from cases.forms import LabelUploadForm
from cases.label_imports import label_import_create, label_import_error_file
from cases.selectors import label_imports_visible_to, recent_labels
from detection.labels_import import REQUIRED_COLUMNS, LabelFileError
from secureflow.core.permissions import investigator_required
from secureflow.core.retention import files_removed_message

POLL_SECONDS = 1
IMPORTS_LISTED = 10


@investigator_required
@require_http_methods(["GET", "POST"])
def labels(request: HttpRequest) -> HttpResponse:
    form = LabelUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = label_import_create(
                owner=request.user,
                content=upload,
                filename=upload.name or "",
                default_source=form.cleaned_data["source"],
            )
        except LabelFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("cases:label-import", pk=job.pk)
    context = {
        "form": form,
        "required_columns": REQUIRED_COLUMNS,
        "imports": label_imports_visible_to(request.user)[:IMPORTS_LISTED],
        "labels": recent_labels(),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "cases/labels.html", context, status=status)


@investigator_required
@require_GET
def label_import(request: HttpRequest, pk: int) -> HttpResponse:
    """One label file's import: its progress (polled while it runs), then its totals and
    its first bad rows."""
    job = get_object_or_404(label_imports_visible_to(request.user), pk=pk)
    context = {"job": job, "poll_seconds": POLL_SECONDS}
    if request.htmx and not request.htmx.boosted:
        return render(request, "cases/partials/_label_import_status.html", context)
    return render(request, "cases/label_import.html", context)


@investigator_required
@require_GET
def label_import_errors(request: HttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
    """Every bad row of a label file (line, column, reason) as CSV, as far as imported."""
    job = get_object_or_404(label_imports_visible_to(request.user), pk=pk)
    if job.files_removed_at is not None:
        return HttpResponse(
            files_removed_message(job),
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    response = StreamingHttpResponse(label_import_error_file(job), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="labels-{job.pk}-errors.csv"'
    return response
