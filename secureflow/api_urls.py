"""The versioned REST API: each app adds its routes here."""

from rest_framework.routers import DefaultRouter

from alerts.api.views import AlertDeliveryViewSet
from cases.api.views import FeedbackViewSet
from transactions.api.urls import register as register_transactions

router = DefaultRouter()
register_transactions(router)
router.register("feedback", FeedbackViewSet, basename="feedback")
router.register("alert-deliveries", AlertDeliveryViewSet, basename="alert-delivery")

urlpatterns = router.urls
