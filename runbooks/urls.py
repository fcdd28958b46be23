from django.urls import path

from runbooks import views

app_name = "runbooks"
urlpatterns = [
    path("n/<slug:namespace>/runbooks/", views.runbook_list, name="list"),
    path("n/<slug:namespace>/runbooks/<slug:runbook>/", views.runbook_detail, name="detail"),
]
