from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from namespaces import views as namespace_views

urlpatterns = [
    path("", namespace_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("namespaces.urls")),
    path("", include("runbooks.urls")),
    path("", include("checkers.urls")),
    path("", include("health.urls")),
]
