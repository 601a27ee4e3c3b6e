"""Pages of the transactions app (mounted under /batches/)."""

from django.urls import path

from transactions import views

app_name = "transactions"

urlpatterns = [
    path("", views.batch_list, name="batch_list"),
    path("<int:pk>/", views.batch_detail, name="batch_detail"),
]
