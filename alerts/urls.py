from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.subscription_list, name="subscriptions"),
    path("subscriptions/new/", views.subscription_form, name="subscription-create"),
    path("subscriptions/<int:pk>/edit/", views.subscription_form, name="subscription-edit"),
    path("subscriptions/<int:pk>/delete/", views.subscription_delete, name="subscription-delete"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_form, name="rule-create"),
    path("rules/<int:pk>/edit/", views.rule_form, name="rule-edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule-delete"),
    path("deliveries/", views.delivery_list, name="deliveries"),
    path("deliveries/<int:pk>/retry/", views.delivery_retry, name="delivery-retry"),
]
