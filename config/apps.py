from django.contrib.admin.apps import AdminConfig


class ZhikuAdminConfig(AdminConfig):
    """The admin, with a login that resists password guessing (config.admin)."""

    default_site = "config.admin.ZhikuAdminSite"

    def ready(self):
        super().ready()
        from django.contrib.auth.signals import user_login_failed

        from config.admin import log_failed_login

        user_login_failed.connect(log_failed_login, dispatch_uid="zhiku_log_failed_login")
