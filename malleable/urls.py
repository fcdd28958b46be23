from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api import token_views
from pages.views import dashboard as namespace_views

urlpatterns = [
    path("", namespace_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("account/api-tokens/", token_views.token_list, name="api-tokens"),
    path("account/api-tokens/<slug:token>/revoke/", token_views.token_revoke, name="api-token-revoke"),
    path("", include("pages.urls.namespaces")),
    path("", include("pages.urls.runbooks")),
    path("", include("pages.urls.checkers")),
    path("", include("health.urls")),
]

handler400 = "api.errors.bad_request"
handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
