"""Feedback API: chargebacks, customer confirmations and other labels from bank systems."""

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.serializers import FeedbackCreateSerializer, FeedbackLabelSerializer
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
