"""The admin site with brute-force protection on its login form."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from qa.ratelimit import LoginGuard, too_many_requests


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
            return too_many_requests(request, guard.retry_after)
        response = super().login(request, extra_context)
        # The login view re-renders the form (200) on bad credentials and redirects on success.
        if response.status_code == 200:
            guard.failed()
        elif request.user.is_authenticated:
            guard.succeeded()
        return response
