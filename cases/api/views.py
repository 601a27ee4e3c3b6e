"""Feedback API (chargebacks, customer confirmations and other labels from bank systems)
and the read-only cases API."""

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.serializers import (
    CaseDetailSerializer,
    CaseSerializer,
    FeedbackCreateSerializer,
    FeedbackLabelSerializer,
    LabelKeyConflictSerializer,
)
from cases.feedback import LabelRequest, feedback_label_record
from cases.filtersets import CaseFilterSet
from cases.models import Case, CaseEvent
from cases.selectors import cases_with_transactions
from secureflow.core.idempotency import (
    IdempotencyConflict,
    idempotency_conflict,
    idempotency_key_from,
    idempotency_key_parameter,
)
from secureflow.core.permissions import IsInvestigator, IsSecureflowAdmin


class FeedbackViewSet(viewsets.GenericViewSet):
    permission_classes = [IsInvestigator | IsSecureflowAdmin]
    serializer_class = FeedbackCreateSerializer

    @extend_schema(
        request=FeedbackCreateSerializer,
        parameters=[
            idempotency_key_parameter(
                "Optional key (printable ASCII, at most 128 characters), your own: a retry "
                "with the same key and label returns the stored label (200)."
            )
        ],
        responses={
            201: FeedbackLabelSerializer,
            200: OpenApiResponse(
                FeedbackLabelSerializer,
                description="A retry: the label stored before, under the same Idempotency-Key, "
                "or the same transaction, verdict, source and known_at.",
            ),
            409: OpenApiResponse(
                LabelKeyConflictSerializer,
                description="The Idempotency-Key was used for a different label.",
            ),
        },
        summary="Record what the bank learned about a transaction",
    )
    def create(self, request: Request) -> Response:
        serializer = FeedbackCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        idempotency_key = idempotency_key_from(request)
        data = serializer.validated_data
        label_request = LabelRequest(
            txn=data["transaction"],
            is_fraud=data["is_fraud"],
            source=data["source"],
            known_at=data["known_at"],
            note=data["note"],
        )
        try:
            recorded = feedback_label_record(
                request=label_request, client=request.user, idempotency_key=idempotency_key
            )
        except IdempotencyConflict as conflict:
            return idempotency_conflict(conflict.message, label=conflict.existing.pk)
        return Response(
            FeedbackLabelSerializer(recorded.label).data,
            status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        )


class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The case queue for bank systems and reports: the same filters and sorting as the
    investigators' queue page (CaseFilterSet). Read only: decisions are made on the case
    page, where the version check protects against overwriting a colleague's work."""

    permission_classes = [IsInvestigator | IsSecureflowAdmin]
    filterset_class = CaseFilterSet

    def get_queryset(self) -> QuerySet[Case]:
        if self.action == "retrieve":
            return Case.objects.select_related(
                "transaction__account__customer",
                "transaction__counterparty",
                "transaction__score",
                "assignee",
            ).prefetch_related(
                Prefetch("events", queryset=CaseEvent.objects.select_related("actor"))
            )
        return cases_with_transactions()

    def get_serializer_class(self) -> type:
        return CaseDetailSerializer if self.action == "retrieve" else CaseSerializer
