from django.urls import path

from pages.views import dashboard as views
from pages.views import settings as settings_views

app_name = "namespaces"
SETTINGS = "n/<slug:namespace>/settings/"
urlpatterns = [
    path("n/<slug:namespace>/", views.detail, name="detail"),
    path("n/<slug:namespace>/dashboard/live/", views.dashboard_live, name="dashboard-live"),
    path("n/<slug:namespace>/alarms/", views.alarm_history, name="alarms"),
    path(SETTINGS, settings_views.members, name="settings"),
    path(f"{SETTINGS}members/<str:member>/", settings_views.member_change, name="member"),
    path(f"{SETTINGS}channels/", settings_views.channel_list, name="channels"),
    path(f"{SETTINGS}channels/new/", settings_views.channel_create, name="channel-create"),
    path(f"{SETTINGS}channels/<slug:channel>/", settings_views.channel_edit, name="channel-edit"),
    path(f"{SETTINGS}channels/<slug:channel>/test/", settings_views.channel_test, name="channel-test"),
    path(f"{SETTINGS}channels/<slug:channel>/delete/", settings_views.channel_delete, name="channel-delete"),
    path(f"{SETTINGS}maintenance/", settings_views.maintenance, name="maintenance"),
    path(f"{SETTINGS}alarms/", settings_views.alarm_defaults, name="alarm-defaults"),
]
