from django.contrib.admin.apps import AdminConfig


class ZhikuAdminConfig(AdminConfig):
    """The admin, with a login that resists password guessing (config.admin)."""

    default_site = "config.admin.ZhikuAdminSite"
