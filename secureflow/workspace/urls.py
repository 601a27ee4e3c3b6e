from django.urls import path

from secureflow.workspace.views import check, dashboard, settings

app_name = "workspace"

urlpatterns = [
    path("check/", check.check, name="check"),
    path("check/accounts/", check.account_options, name="check-accounts"),
    path("check/counterparties/", check.counterparty_options, name="check-counterparties"),
    # transaction ids may contain slashes: the action route comes first
    path("check/result/<path:external_id>/action/", check.check_action, name="check-action"),
    path("check/result/<path:external_id>/", check.check_result_page, name="check-result"),
    path("settings/", settings.settings_page, name="settings"),
    path("settings/limits/<slug:code>/", settings.limit_row, name="limit-row"),
    path("settings/limits/<slug:code>/edit/", settings.limit_edit, name="limit-edit"),
    path("dashboard/", dashboard.dashboard_page, name="dashboard"),
    path("dashboard/models/", dashboard.model_health_panel, name="dashboard-models"),
]
