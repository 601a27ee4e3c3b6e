"""The versioned REST API: each app adds its routes here."""

from rest_framework.routers import DefaultRouter

from cases.api.views import FeedbackViewSet
from transactions.api.urls import register as register_transactions

router = DefaultRouter()
register_transactions(router)
router.register("feedback", FeedbackViewSet, basename="feedback")

urlpatterns = router.urls
