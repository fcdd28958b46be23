from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from api import checker_views, data_views, namespace_views, sandbox_views, settings_views

app_name = "api"
NS = "namespaces/<slug:namespace>/"
CHECKER = f"{NS}checkers/<slug:checker>/"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="swagger"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("sandbox/run", sandbox_views.SandboxRunView.as_view(), name="sandbox-run"),
    path("namespaces/", namespace_views.NamespaceList.as_view(), name="namespace-list"),
    path(NS, namespace_views.NamespaceDetail.as_view(), name="namespace-detail"),
    path(f"{NS}config", namespace_views.NamespaceConfig.as_view(), name="namespace-config"),
    path(f"{NS}checkers/", checker_views.CheckerList.as_view(), name="checker-list"),
    path(CHECKER, checker_views.CheckerDetail.as_view(), name="checker-detail"),
    path(f"{CHECKER}state", checker_views.CheckerState.as_view(), name="checker-state"),
    path(f"{CHECKER}alarms", checker_views.AlarmHistory.as_view(), name="checker-alarms"),
    path(f"{CHECKER}toggle", checker_views.Toggle.as_view(), name="checker-toggle"),
    path(f"{CHECKER}run", checker_views.RunNow.as_view(), name="checker-run"),
    path(f"{CHECKER}test", checker_views.TestRun.as_view(), name="checker-test"),
    path(f"{NS}members/", settings_views.MemberList.as_view(), name="member-list"),
    path(f"{NS}members/<str:member>/", settings_views.MemberDetail.as_view(), name="member-detail"),
    path(f"{NS}datasources/", data_views.DatasourceList.as_view(), name="datasource-list"),
    path(
        f"{NS}datasources/<slug:datasource>/", data_views.DatasourceDetail.as_view(), name="datasource-detail"
    ),
    path(f"{NS}datasets/", data_views.DatasetList.as_view(), name="dataset-list"),
    path(f"{NS}datasets/<slug:dataset>/", data_views.DatasetDetail.as_view(), name="dataset-detail"),
    path(f"{NS}datasets/<slug:dataset>/preview", data_views.DatasetPreview.as_view(), name="dataset-preview"),
    path(f"{NS}runbooks/", data_views.RunbookList.as_view(), name="runbook-list"),
    path(f"{NS}runbooks/<slug:runbook>/", data_views.RunbookDetail.as_view(), name="runbook-detail"),
    path(f"{NS}channels/", settings_views.ChannelList.as_view(), name="channel-list"),
    path(f"{NS}channels/<slug:channel>/", settings_views.ChannelDetail.as_view(), name="channel-detail"),
    path(f"{NS}channels/<slug:channel>/test", settings_views.ChannelTest.as_view(), name="channel-test"),
    path(f"{NS}maintenance/", settings_views.WindowList.as_view(), name="window-list"),
    path(f"{NS}maintenance/<uuid:window>/", settings_views.WindowDetail.as_view(), name="window-detail"),
    path(f"{NS}runs/", checker_views.RunList.as_view(), name="run-list"),
    path(f"{NS}runs/<uuid:run>", checker_views.RunDetail.as_view(), name="run-detail"),
]
