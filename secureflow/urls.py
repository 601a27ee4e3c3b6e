from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from secureflow.core import views as core_views
from secureflow.core.api_docs import ApiDocsView
from secureflow.core.forms import AdminSignInForm, SignInForm
from secureflow.core.health import healthz

admin.site.login_form = AdminSignInForm  # failed sign-ins limited as on the pages

urlpatterns = [
    # first: the real-time API is the busiest route, and each pattern tried costs time
    path("api/v1/", include("secureflow.api_urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=SignInForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", core_views.home, name="home"),
    path("cases/", include("cases.urls")),
    path("alerts/", include("alerts.urls")),
    path("", include("transactions.urls")),
    path("", include("secureflow.workspace.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
]

# JSON errors under /api/, the usual pages elsewhere (secureflow/core/api_errors.py).
handler400 = "secureflow.core.api_errors.bad_request"
handler404 = "secureflow.core.api_errors.page_not_found"
handler500 = "secureflow.core.api_errors.server_error"
