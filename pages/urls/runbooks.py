from django.urls import path

from pages.views import runbooks as views

app_name = "runbooks"
urlpatterns = [
    path("n/<slug:namespace>/runbooks/", views.runbook_list, name="list"),
    path("n/<slug:namespace>/runbooks/new/", views.runbook_create, name="create"),
    path("n/<slug:namespace>/runbooks/<slug:runbook>/", views.runbook_detail, name="detail"),
    path("n/<slug:namespace>/runbooks/<slug:runbook>/edit/", views.runbook_edit, name="edit"),
]
