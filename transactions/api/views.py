"""Transactions API: submit for a real-time decision, list and read decisions."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from secureflow.core.idempotency import (
    IdempotencyConflict,
    idempotency_conflict,
    idempotency_key_from,
    idempotency_key_parameter,
)
from secureflow.core.models import ApiKey
from secureflow.core.pagination import KeysetPagination
from secureflow.core.permissions import IsInvestigator, IsSecureflowAdmin
from transactions.api.serializers import (
    DecisionSerializer,
    IdempotencyConflictSerializer,
    TransactionSerializer,
    TransactionSubmitSerializer,
    decision_data,
    submission_validated,
)
from transactions.filtersets import TransactionFilterSet
from transactions.models import Transaction
from transactions.selectors import transactions_with_decisions
from transactions.services import transaction_submit

EXTERNAL_ID_MAX_LENGTH = 64


class TransactionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsInvestigator | IsSecureflowAdmin]
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilterSet
    pagination_class = KeysetPagination  # newest first, from where the last page ended
    lookup_field = "external_id"
    lookup_url_kwarg = "external_id"
    lookup_value_regex = ".+"  # ids may hold slashes (a bank's "2026/11/0042"), as on the pages
    # POST (a real-time decision) has its own rate (SECUREFLOW_API_RATE_SCORE)
    throttle_scopes = {"create": "score"}

    def get_queryset(self) -> QuerySet[Transaction]:
        return transactions_with_decisions()

    def get_object(self) -> Transaction:
        value = self.kwargs.get(self.lookup_url_kwarg, "")
        if len(value) > EXTERNAL_ID_MAX_LENGTH or "\x00" in value:
            raise NotFound()  # no stored transaction can have such an id
        return super().get_object()

    def get_serializer_class(self) -> type:
        if self.action == "create":
            return TransactionSubmitSerializer
        return TransactionSerializer

    @extend_schema(
        request=TransactionSubmitSerializer,
        parameters=[
            idempotency_key_parameter(
                "Optional key (printable ASCII, at most 128 characters); a retry with the "
                "same key and body is a replay."
            )
        ],
        responses={
            201: DecisionSerializer,
            200: OpenApiResponse(DecisionSerializer, description="Replay of a stored decision."),
            409: OpenApiResponse(
                IdempotencyConflictSerializer,
                description="The id or Idempotency-Key was used with a different body.",
            ),
        },
        summary="Submit a transaction and get its decision",
    )
    def create(self, request: Request) -> Response:
        validated = submission_validated(request.data)
        idempotency_key = idempotency_key_from(request)
        try:
            txn, score, created = transaction_submit(
                data=validated,
                idempotency_key=idempotency_key,
                user=request.user,
                api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            )
        except IdempotencyConflict as conflict:
            return idempotency_conflict(conflict.message, transaction=conflict.existing.external_id)
        except DjangoValidationError as error:
            raise ValidationError(
                error.message_dict if hasattr(error, "error_dict") else error.messages
            ) from error
        score.transaction = txn
        body = decision_data(score)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
