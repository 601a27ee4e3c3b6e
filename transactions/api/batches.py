"""Batches API: post a CSV file or a JSON array of transactions, follow the batch, download
its scored rows and its rejected rows.

    POST /api/v1/batches/                  multipart (file, mapping | mapping_name, mode,
                                           delimiter, decimal, encoding) or a JSON array
                                           (options as query parameters) -> 202 + the batch
    GET  /api/v1/batches/                  the caller's batches (admins: every batch)
    GET  /api/v1/batches/{id}/             status, progress, counts, first rejected rows
    GET  /api/v1/batches/{id}/results.csv  imported rows with risk score, outcome, reasons
    GET  /api/v1/batches/{id}/errors.csv   rejected rows: row, column, reason, value
"""

import codecs
import json
from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils.http import parse_header_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from secureflow.core.parsers import NESTED_TOO_DEEPLY, JSONParser
from secureflow.core.permissions import IsInvestigator
from secureflow.core.retention import files_removed_message
from transactions.batches.reading import (
    BatchInputError,
    check_size,
    load_mapping_bytes,
    mapping_with_options,
    max_upload_bytes,
)
from transactions.batches.results import ERROR_COLUMNS, RESULT_COLUMNS, csv_lines, file_lines
from transactions.batches.selectors import (
    batch_result_records,
    batch_transactions,
    batches_visible_to,
)
from transactions.batches.services import import_batch_create
from transactions.choices import BatchFormat, BatchMode, BatchSource, TransferType
from transactions.csv_schema import ColumnMapping
from transactions.filtersets import BatchResultFilterSet
from transactions.models import ImportBatch, ImportMapping

DELIMITER_CHOICES = [(",", "comma"), (";", "semicolon"), ("|", "pipe"), ("tab", "tab")]
DECIMAL_CHOICES = [(".", "point"), (",", "comma")]


class FilesRemoved(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "This file was removed after the file retention period."
    default_code = "files_removed"


class CsvRenderer(BaseRenderer):
    """CSV for the downloads (streamed by the views themselves); an error raised on the way
    (a bad filter, no credentials, no such batch) is rendered as the usual JSON error."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode()
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return JSONRenderer().render(data, "application/json", renderer_context)


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The upload is too large."


class BatchUploadSerializer(serializers.Serializer):
    """A CSV upload (multipart/form-data)."""

    file = serializers.FileField(help_text="The transactions CSV (any bank's export).")
    mapping = serializers.FileField(
        required=False, help_text="A column mapping JSON file (transactions/csv_schema.py)."
    )
    mapping_name = serializers.CharField(
        required=False, allow_blank=True, help_text="The name of a saved mapping."
    )
    mode = serializers.ChoiceField(choices=BatchMode.choices, default=BatchMode.SCORE)
    delimiter = serializers.ChoiceField(
        choices=DELIMITER_CHOICES, required=False, help_text="Default: detected."
    )
    decimal = serializers.ChoiceField(
        choices=DECIMAL_CHOICES, required=False, help_text="Default: detected."
    )
    encoding = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Default: UTF-8 (with or without BOM), else Latin-1.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("mapping") and attrs.get("mapping_name"):
            raise serializers.ValidationError(
                {"mapping_name": "Give a mapping file or a mapping name, not both."}
            )
        return attrs


class BatchTransactionSerializer(serializers.Serializer):
    """One transaction of a JSON batch (canonical names; see transactions/csv_schema.py)."""

    id = serializers.CharField()
    timestamp = serializers.CharField(help_text="ISO 8601; naive times are the bank's local time.")
    account = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    customer = serializers.CharField(required=False)
    counterparty = serializers.CharField(required=False)
    currency = serializers.CharField(required=False)
    transfer_type = serializers.ChoiceField(choices=TransferType.choices, required=False)
    country = serializers.CharField(required=False)
    channel = serializers.CharField(required=False)
    home_country = serializers.CharField(required=False)
    counterparty_country = serializers.CharField(required=False)
    label = serializers.IntegerField(required=False, help_text="1 fraud, 0 legitimate")


class RowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(
        help_text="Line in the file (the header is line 1); for JSON, the position (from 1)."
    )
    column = serializers.CharField()
    reason = serializers.CharField()
    value = serializers.CharField()


class BatchErrorsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Errors found (a row may have several).")
    rows = serializers.IntegerField(help_text="Rows rejected.")
    by_column = serializers.DictField(child=serializers.IntegerField())
    first = RowErrorSerializer(many=True, help_text="The first 20 errors.")


class BatchSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.get_username", default=None, read_only=True)
    progress = serializers.IntegerField(source="progress_percent", read_only=True)
    errors = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    results_url = serializers.SerializerMethodField()
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "url",
            "status",
            "mode",
            "source",
            "input_format",
            "original_filename",
            "mapping_name",
            "owner",
            "progress",
            "rows_total",
            "rows_done",
            "rows_imported",
            "rows_duplicate",
            "rows_rejected",
            "rows_scored",
            "rows_flagged",
            "chunks_total",
            "chunks_done",
            "error_message",
            "errors",
            "created_at",
            "started_at",
            "finished_at",
            "files_removed_at",
            "results_url",
            "errors_url",
        ]
        read_only_fields = fields

    @extend_schema_field(BatchErrorsSerializer)
    def get_errors(self, batch: ImportBatch) -> dict[str, Any]:
        summary = batch.error_summary or {}
        return {
            "count": int(summary.get("errors", 0)),
            "rows": int(summary.get("rows", 0)),
            "by_column": summary.get("by_column", {}),
            "first": summary.get("first", [])[:20],
        }

    def _link(self, batch: ImportBatch, name: str, fmt: str | None = None) -> str:
        request = self.context.get("request")
        return reverse(
            name, kwargs={"pk": batch.pk, **({"format": fmt} if fmt else {})}, request=request
        )

    def get_url(self, batch: ImportBatch) -> str:
        return self._link(batch, "batch-detail")

    def get_results_url(self, batch: ImportBatch) -> str:
        return self._link(batch, "batch-results", "csv")

    def get_errors_url(self, batch: ImportBatch) -> str:
        return self._link(batch, "batch-errors", "csv")


class BatchViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsInvestigator]
    serializer_class = BatchSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_class = None

    def get_queryset(self) -> QuerySet[ImportBatch]:
        return batches_visible_to(self.request.user)

    @extend_schema(
        summary="Post a batch of transactions (CSV upload or JSON array)",
        request={
            "multipart/form-data": BatchUploadSerializer,
            "application/json": BatchTransactionSerializer(many=True),
        },
        parameters=[
            OpenApiParameter(
                "mode",
                OpenApiTypes.STR,
                enum=BatchMode.values,
                description="JSON body: import and score (default) or import only.",
            ),
            OpenApiParameter(
                "mapping_name", OpenApiTypes.STR, description="JSON body: a saved mapping."
            ),
        ],
        responses={
            202: OpenApiResponse(BatchSerializer, description="Queued; follow its url."),
            413: OpenApiResponse(description="Larger than SECUREFLOW_MAX_UPLOAD_MB."),
        },
    )
    def create(self, request: Request) -> Response:
        media_type, _ = parse_header_parameters(request.content_type or "")
        if media_type.lower() == JSONParser.media_type:
            # a multipart body over the limit never gets here (RequestSizeLimitMiddleware);
            # a JSON body has no form fields around it, so its own limit is exact
            self._refuse_large_body(request)
            batch = self._create_from_json(request)
        else:
            batch = self._create_from_upload(request)
        body = BatchSerializer(batch, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})

    @staticmethod
    def _refuse_large_body(request: Request) -> None:
        """413 from the Content-Length alone, before the body is read."""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > max_upload_bytes():
            try:
                check_size(length)
            except BatchInputError as exc:
                raise UploadTooLarge(exc.message) from exc

    @staticmethod
    def _json_body(request: Request) -> bytes:
        """The JSON body as UTF-8 bytes, read once from the request stream.

        Not through `request.data`: DRF's JSONParser takes `request.body`, which Django
        caps at DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, the limit of every other body), while
        a batch may be as large as SECUREFLOW_MAX_UPLOAD_MB (Content-Length checked by
        `_refuse_large_body`). The bytes are stored as the batch input as they are; the
        batch service parses them once to check them."""
        stream = request.stream
        limit = max_upload_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:  # more than its Content-Length said
            try:
                check_size(len(raw))
            except BatchInputError as exc:
                raise UploadTooLarge(exc.message) from exc
        _, params = parse_header_parameters(request.content_type or "")
        charset = params.get("charset") or "utf-8"
        try:
            "".encode(charset)  # a text encoding (not e.g. bz2_codec)
            if codecs.lookup(charset).name != "utf-8":
                raw = raw.decode(charset).encode()
        except (LookupError, UnicodeError) as exc:
            raise exceptions.ParseError(
                f"JSON parse error - the body cannot be read as {charset!r}: {exc}"
            ) from exc
        return raw

    @staticmethod
    def _saved_mapping(name: str, field: str = "mapping_name") -> ColumnMapping:
        saved = ImportMapping.objects.filter(name=name).first()
        if saved is None:
            raise serializers.ValidationError({field: [f"No saved mapping is named {name!r}."]})
        try:
            return mapping_with_options(saved.mapping)
        except BatchInputError as exc:
            raise serializers.ValidationError({field: [exc.message]}) from exc

    def _create_from_upload(self, request: Request) -> ImportBatch:
        serializer = BatchUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        name = data.get("mapping_name") or ""
        try:
            if data.get("mapping"):
                base = load_mapping_bytes(data["mapping"].read())
            elif name:
                base = self._saved_mapping(name)
            else:
                base = ColumnMapping()
            mapping = mapping_with_options(
                base,
                delimiter=data.get("delimiter"),
                decimal=data.get("decimal"),
                encoding=data.get("encoding") or None,
            )
            return import_batch_create(
                owner=request.user,
                source=BatchSource.API,
                content=upload,
                input_format=BatchFormat.CSV,
                original_filename=Path(upload.name or "").name,
                mapping=mapping,
                mapping_name=name,
                mode=data["mode"],
            )
        except BatchInputError as exc:
            self._raise(exc)

    def _create_from_json(self, request: Request) -> ImportBatch:
        params = request.query_params
        mode = params.get("mode") or BatchMode.SCORE
        if mode not in BatchMode.values:
            raise serializers.ValidationError(
                {
                    "mode": [
                        f"'{mode}' is not a mode; expected one of {', '.join(BatchMode.values)}."
                    ]
                }
            )
        name = params.get("mapping_name") or ""
        mapping = self._saved_mapping(name) if name else ColumnMapping()
        content = self._json_body(request)
        if not content or content.isspace():  # (no stripped copy of a large body)
            raise serializers.ValidationError(
                {"transactions": ["The body is empty; expected a JSON array of transactions."]}
            )
        try:
            return import_batch_create(
                owner=request.user,
                source=BatchSource.API,
                content=content,
                input_format=BatchFormat.JSON,
                original_filename="",
                mapping=mapping,
                mapping_name=name,
                mode=mode,
            )
        except BatchInputError as exc:
            self._raise(exc)
        except RecursionError:
            raise exceptions.ParseError(NESTED_TOO_DEEPLY) from None

    @staticmethod
    def _raise(exc: BatchInputError) -> None:
        if exc.message.startswith("The file is") and "SECUREFLOW_MAX_UPLOAD_MB" in exc.message:
            raise UploadTooLarge(exc.message) from exc
        if exc.field == "transactions" and isinstance(
            exc.__cause__, json.JSONDecodeError | UnicodeDecodeError
        ):
            # a malformed JSON body, as the API's JSON parser answers it
            raise exceptions.ParseError(exc.message) from exc
        raise serializers.ValidationError({exc.field: [exc.message]}) from exc

    @extend_schema(
        summary="Scored rows of a batch as CSV",
        description="Columns: " + ", ".join(RESULT_COLUMNS) + ". Reasons are joined by ' | '. "
        "Filters as on the batch page: flagged, outcome, min_risk, max_risk, sort.",
        parameters=[
            OpenApiParameter("flagged", OpenApiTypes.BOOL, description="Review or block only."),
            OpenApiParameter("outcome", OpenApiTypes.STR, enum=["approve", "review", "block"]),
            OpenApiParameter("min_risk", OpenApiTypes.NUMBER),
            OpenApiParameter("max_risk", OpenApiTypes.NUMBER),
            OpenApiParameter(
                "sort",
                OpenApiTypes.STR,
                description="risk, time, amount or id; a leading '-' sorts descending.",
            ),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="results",
        renderer_classes=[CsvRenderer, JSONRenderer],
    )
    def results(
        self, request: Request, pk: str | None = None, format: str | None = None
    ) -> StreamingHttpResponse:  # noqa: A002, E501
        batch = self.get_object()
        filterset = BatchResultFilterSet(
            request.query_params, queryset=batch_transactions(batch).order_by("id")
        )
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        response = StreamingHttpResponse(
            csv_lines(RESULT_COLUMNS, batch_result_records(batch, queryset=filterset.qs)),
            content_type="text/csv",
        )
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-results.csv"'
        return response

    @extend_schema(
        summary="Rejected rows of a batch as CSV",
        description="Columns: " + ", ".join(ERROR_COLUMNS) + ". Row is the line in the file "
        "(the header is line 1), or the position in a JSON array (from 1).",
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            410: OpenApiResponse(description="Removed after the file retention period."),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="errors",
        renderer_classes=[CsvRenderer, JSONRenderer],
    )
    def errors(
        self, request: Request, pk: str | None = None, format: str | None = None
    ) -> StreamingHttpResponse:  # noqa: A002, E501
        batch = self.get_object()
        if batch.files_removed_at is not None:
            raise FilesRemoved(files_removed_message(batch))
        path = Path(batch.errors_path) if batch.errors_path else None
        if path is not None and path.exists():
            response = StreamingHttpResponse(file_lines(path), content_type="text/csv")
        else:  # not read yet (or the file is gone): the header alone
            response = StreamingHttpResponse(csv_lines(ERROR_COLUMNS, []), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-errors.csv"'
        return response
