"""Routes of the transactions API, registered on the shared v1 router."""

from rest_framework.routers import BaseRouter

from transactions.api.batches import BatchViewSet
from transactions.api.views import TransactionViewSet


def register(router: BaseRouter) -> None:
    router.register("transactions", TransactionViewSet, basename="transaction")
    router.register("batches", BatchViewSet, basename="batch")
