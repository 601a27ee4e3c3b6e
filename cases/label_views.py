"""The labels page: upload a file of what the bank learned (chargebacks, customer
confirmations) and see the labels recorded last. The file is read as `manage.py
import_labels` reads it (detection/labels_import.py): bad rows are listed with their line,
column and reason, good rows are stored, and a row already stored is not stored again."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from cases.choices import REPORTED_LABEL_SOURCES
from cases.forms import LabelUploadForm
from cases.selectors import recent_labels
from detection.labels_import import (
    REQUIRED_COLUMNS,
    LabelFileError,
    LabelImportResult,
    decode_label_file,
    labels_import,
)
from secureflow.core.permissions import investigator_required

ERRORS_SHOWN = 500


@investigator_required
@require_http_methods(["GET", "POST"])
def labels(request: HttpRequest) -> HttpResponse:
    form = LabelUploadForm(request.POST or None, request.FILES or None)
    result: LabelImportResult | None = None
    if request.method == "POST" and form.is_valid():
        try:
            result = labels_import(
                text=decode_label_file(form.cleaned_data["file"].read()),
                default_source=form.cleaned_data["source"],
                created_by=request.user,
                sources=REPORTED_LABEL_SOURCES,
            )
        except LabelFileError as exc:
            form.add_error("file", str(exc))
    context = {
        "form": form,
        "result": result,
        "rejected": len({error.line for error in result.errors}) if result else 0,
        "errors": result.errors[:ERRORS_SHOWN] if result else [],
        "errors_hidden": max(len(result.errors) - ERRORS_SHOWN, 0) if result else 0,
        "required_columns": REQUIRED_COLUMNS,
        "labels": recent_labels(),
    }
    status = 400 if request.method == "POST" and result is None else 200
    return render(request, "cases/labels.html", context, status=status)
