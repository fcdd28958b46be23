from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class NamespacesConfig(AppConfig):
    default = True
    name = "namespaces"
    verbose_name = "Namespaces"


class MalleableAdminConfig(admin_apps.AdminConfig):
    """Installs the tenant-scoped site as ``admin.site``, so every app registers on it."""

    default = False
    default_site = "namespaces.tenant_admin.MalleableAdminSite"
