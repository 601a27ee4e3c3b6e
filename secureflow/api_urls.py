"""The versioned REST API: each app adds its routes here."""

from rest_framework.routers import DefaultRouter

from alerts.api.views import AlertDeliveryViewSet
from cases.api.views import CaseViewSet, FeedbackViewSet
from transactions.api.urls import register as register_transactions

router = DefaultRouter()
register_transactions(router)
router.register("feedback", FeedbackViewSet, basename="feedback")
router.register("cases", CaseViewSet, basename="case")
router.register("alert-deliveries", AlertDeliveryViewSet, basename="alert-delivery")

urlpatterns = router.urls
