"""The admin site with brute-force protection on its login form, a log of
failed logins and lockouts, and the Markdown preview that the question and
resource admins share."""

import logging

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from config.jsonapi import json_error, json_response
from config.ratelimit import LoginGuard, client_id, too_many_requests
from qa.markdown import render_markdown

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


# Longer than any real answer; stops a preview request from rendering megabytes.
PREVIEW_MAX_CHARS = 200_000


class MarkdownPreviewMixin:
    """A live preview beside each Markdown field named in ``markdown_fields``.

    The browser posts the text to a staff-only, CSRF-protected endpoint inside
    this admin, which answers with the same sanitised HTML the site stores on
    save; static/js/admin-preview.js shows it (no inline script: the CSP forbids it).
    """

    markdown_fields: tuple[str, ...] = ()

    @property
    def media(self):
        return super().media + forms.Media(
            js=["js/admin-preview.js"],
            css={"all": ["css/pygments.css", "css/admin-preview.css"]},
        )

    def _preview_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_markdown_preview"

    def get_urls(self):
        preview = path(
            "markdown-preview/",
            self.admin_site.admin_view(self.markdown_preview),
            name=self._preview_url_name(),
        )
        return [preview, *super().get_urls()]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in self.markdown_fields:
            field.widget.attrs.update(
                {
                    "data-markdown-preview": reverse(f"{self.admin_site.name}:{self._preview_url_name()}"),
                    "data-preview-label": _("Preview"),
                    "data-preview-error": _("The preview could not be loaded."),
                }
            )
        return field

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            # The preview of an existing object may resolve what belongs to it (figures).
            for name in self.markdown_fields:
                if name in form.base_fields:
                    form.base_fields[name].widget.attrs["data-preview-object"] = str(obj.pk)
        return form

    def preview_figures(self, request, object_id: str) -> dict:
        """The figures ``figure:NAME`` may name in a preview of object ``object_id``."""
        return {}

    @method_decorator(require_POST)
    def markdown_preview(self, request):
        """``{"html": ...}``: the field's Markdown as the site will render it."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        text = request.POST.get("text", "")
        if len(text) > PREVIEW_MAX_CHARS:
            return json_error(_("The text is too long to preview."), 413)
        figures = self.preview_figures(request, request.POST.get("object", ""))
        return json_response({"html": render_markdown(text, figures=figures)})


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
