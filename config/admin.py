"""The admin site with brute-force protection on its login form, and a log of
failed logins and lockouts for whoever watches the logs."""

import logging

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from qa.ratelimit import LoginGuard, client_id, too_many_requests

logger = logging.getLogger("zhiku.security")


class ZhikuAdminSite(admin.AdminSite):
    site_header = _("Zhiku administration")
    site_title = _("Zhiku admin")

    def login(self, request, extra_context=None):
        """Refuse further attempts for a while after repeated wrong passwords.

        A locked client gets 429 before its password is even checked, so
        guessing stays useless until the window has passed.
        """
        if request.method != "POST":
            return super().login(request, extra_context)
        guard = LoginGuard(request, request.POST.get("username", ""))
        if guard.locked():
            logger.warning(
                "admin login locked",
                extra={"username": _username(request.POST.get("username", "")), "client": client_id(request)},
            )
            return too_many_requests(request, guard.retry_after)
        response = super().login(request, extra_context)
        # The login view re-renders the form (200) on bad credentials and redirects on success.
        if response.status_code == 200:
            guard.failed()
        elif request.user.is_authenticated:
            guard.succeeded()
        return response


def _username(value) -> str:
    # Bounded, so a pasted essay cannot bloat the log; the JSON formatter escapes the rest.
    return str(value)[:150]


def log_failed_login(sender, credentials, request=None, **kwargs):
    """``user_login_failed`` receiver: who tried, from where. Django has already
    masked anything password-like in ``credentials``; only the username is kept."""
    logger.warning(
        "admin login failed",
        extra={
            "username": _username(credentials.get("username", "")),
            "client": client_id(request) if request is not None else "-",
        },
    )
