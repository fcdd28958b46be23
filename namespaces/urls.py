from django.urls import path

from namespaces import views

app_name = "namespaces"
urlpatterns = [
    path("n/<slug:namespace>/", views.detail, name="detail"),
]
