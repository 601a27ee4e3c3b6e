"""The delivery log as an API list (admins), filtered by the same FilterSet as the page."""

from django.db.models import QuerySet
from rest_framework import mixins, viewsets

from alerts.api.serializers import AlertDeliverySerializer
from alerts.filtersets import AlertDeliveryFilterSet
from alerts.models import AlertDelivery
from alerts.selectors import delivery_log
from secureflow.core.permissions import IsSecureflowAdmin


class AlertDeliveryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [IsSecureflowAdmin]
    serializer_class = AlertDeliverySerializer
    filterset_class = AlertDeliveryFilterSet

    def get_queryset(self) -> QuerySet[AlertDelivery]:
        return delivery_log()
