from django.contrib import admin

from namespaces.tenant_admin import TenantAdminMixin
from runbooks.models import Runbook


@admin.register(Runbook)
class RunbookAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["title", "slug", "namespace", "owner", "updated"]
    search_fields = ["title", "slug", "body"]
    prepopulated_fields = {"slug": ["title"]}
    view_on_site = True
