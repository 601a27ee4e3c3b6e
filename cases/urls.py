from django.urls import path

from cases import label_views, views

app_name = "cases"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("claim-next/", views.claim_next, name="claim-next"),
    path("bulk/", views.bulk, name="bulk"),
    path("labels/", label_views.labels, name="labels"),
    path("labels/imports/<int:pk>/", label_views.label_import, name="label-import"),
    path(
        "labels/imports/<int:pk>/errors.csv",
        label_views.label_import_errors,
        name="label-import-errors",
    ),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/action/", views.action, name="action"),
]
