from django.urls import path

from pages.views import calendar as calendar_views
from pages.views import checkers as views
from pages.views import data as data_views
from pages.views import test_runs as test_run_views

app_name = "checkers"
CHECKER = "n/<slug:namespace>/checkers/<slug:checker>/"
urlpatterns = [
    path("n/<slug:namespace>/checkers/new/", views.checker_create, name="create"),
    path("n/<slug:namespace>/checkers/schedule-preview/", views.schedule_preview, name="schedule-preview"),
    path(CHECKER, views.checker_detail, name="detail"),
    path(f"{CHECKER}edit/", views.checker_edit, name="edit"),
    path(f"{CHECKER}delete/", views.checker_delete, name="delete"),
    path(f"{CHECKER}run/", views.run_now, name="run"),
    path(f"{CHECKER}test/", views.test_run, name="test"),
    path(f"{CHECKER}acknowledge/", views.toggle, {"action": "acknowledge"}, name="acknowledge"),
    path(f"{CHECKER}unacknowledge/", views.toggle, {"action": "unacknowledge"}, name="unacknowledge"),
    path(f"{CHECKER}mute/", views.toggle, {"action": "mute"}, name="mute"),
    path(f"{CHECKER}unmute/", views.toggle, {"action": "unmute"}, name="unmute"),
    path(f"{CHECKER}alarming/off/", views.toggle, {"action": "disable-alarming"}, name="disable-alarming"),
    path(f"{CHECKER}alarming/on/", views.toggle, {"action": "enable-alarming"}, name="enable-alarming"),
    path("n/<slug:namespace>/runs/<uuid:run>/", views.run_detail, name="run-detail"),
    path("n/<slug:namespace>/test-runs/<uuid:test_run>/", test_run_views.test_run_result, name="test-run"),
    path("n/<slug:namespace>/settings/calendar/", calendar_views.calendar, name="calendar"),
    path("n/<slug:namespace>/settings/retention/", calendar_views.retention, name="retention"),
    path("n/<slug:namespace>/datasources/", data_views.datasource_list, name="datasource-list"),
    path("n/<slug:namespace>/datasources/new/", data_views.datasource_create, name="datasource-create"),
    path(
        "n/<slug:namespace>/datasources/<slug:datasource>/",
        data_views.datasource_edit,
        name="datasource-edit",
    ),
    path(
        "n/<slug:namespace>/datasources/<slug:datasource>/delete/",
        data_views.datasource_delete,
        name="datasource-delete",
    ),
    path("n/<slug:namespace>/datasets/", data_views.dataset_list, name="dataset-list"),
    path("n/<slug:namespace>/datasets/new/", data_views.dataset_create, name="dataset-create"),
    path("n/<slug:namespace>/datasets/<slug:dataset>/", data_views.dataset_edit, name="dataset-edit"),
    path(
        "n/<slug:namespace>/datasets/<slug:dataset>/delete/", data_views.dataset_delete, name="dataset-delete"
    ),
]
