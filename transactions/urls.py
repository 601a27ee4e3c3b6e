"""Pages of the transactions app: batches (/batches/) and the transaction list (/transactions/)."""

from django.urls import path

from transactions.views import batches, transaction_list

app_name = "transactions"

urlpatterns = [
    path("batches/", batches.batch_list, name="batch_list"),
    path("batches/<int:pk>/", batches.batch_detail, name="batch_detail"),
    path("transactions/", transaction_list.transaction_list, name="transaction_list"),
]
