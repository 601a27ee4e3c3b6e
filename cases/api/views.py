"""Feedback API (chargebacks, customer confirmations and other labels from bank systems)
and the read-only cases API."""

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.serializers import (
    CaseDetailSerializer,
    CaseSerializer,
    FeedbackCreateSerializer,
    FeedbackLabelSerializer,
)
from cases.filtersets import CaseFilterSet
from cases.models import Case, CaseEvent
from cases.selectors import cases_with_transactions
from cases.services import feedback_label_create
from secureflow.core.permissions import IsInvestigator, IsSecureflowAdmin


class FeedbackViewSet(viewsets.GenericViewSet):
    permission_classes = [IsInvestigator | IsSecureflowAdmin]
    serializer_class = FeedbackCreateSerializer

    @extend_schema(
        request=FeedbackCreateSerializer,
        responses={201: FeedbackLabelSerializer},
        summary="Record what the bank learned about a transaction",
    )
    def create(self, request: Request) -> Response:
        serializer = FeedbackCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        label = feedback_label_create(
            txn=data["transaction"],
            is_fraud=data["is_fraud"],
            source=data["source"],
            known_at=data["known_at"],
            created_by=request.user,
            note=data["note"],
        )
        return Response(FeedbackLabelSerializer(label).data, status=status.HTTP_201_CREATED)


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
