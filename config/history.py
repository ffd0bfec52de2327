"""The admin's version history, shared by the question and resource admins (SPEC §5a).

``HistoryAdminMixin`` on a ``ModelAdmin`` of a model registered with
django-reversion gives its objects:

* a history page listing the versions newest first (who, when, which fields
  changed), paginated;
* a word-level diff of any version against the current object;
* a one-click restore (POST, CSRF-protected), itself recorded as a new version;
* an edit form stamped with the newest version it was opened at, so a save on
  top of someone else's newer version is refused, shown as a diff, with the
  editor's text kept in the form.

The versions, diffs and restores themselves are ``qa.history``'s.
"""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.formats import localize
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from reversion.admin import VersionAdmin
from reversion.models import Version

from qa import history

VERSIONS_PER_PAGE = 50
EDIT_VERSION_FIELD = "edit_version"
# reversion's own revert views save raw, past save() and its derived data; restore() replaces them.
_REVERSION_URL_SUFFIXES = ("_recoverlist", "_recover", "_revision")


class HistoryAdminMixin(VersionAdmin):
    change_list_template = None
    change_form_template = "admin/history/change_form.html"

    # --- URLs ---------------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        ours = [
            path(
                "<path:object_id>/history/<int:version_id>/diff/",
                self.admin_site.admin_view(self.version_diff_view),
                name="{}_{}_version_diff".format(*info),
            ),
            path(
                "<path:object_id>/history/<int:version_id>/restore/",
                self.admin_site.admin_view(self.version_restore_view),
                name="{}_{}_version_restore".format(*info),
            ),
        ]
        inherited = [
            url for url in super().get_urls() if not (url.name or "").endswith(_REVERSION_URL_SUFFIXES)
        ]
        return ours + inherited

    def _url(self, name: str, *args) -> str:
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args
        )

    def _object_or_redirect(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return obj, None

    # --- history list -------------------------------------------------------------------------

    def history_view(self, request, object_id, extra_context=None):
        """The versions of one object, newest first, each with the fields it changed."""
        obj, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        versions = history.versions_of(obj)
        page = Paginator(versions, VERSIONS_PER_PAGE).get_page(request.GET.get("p"))
        shown = list(page.object_list)
        # The version just below the page tells what the page's oldest one changed.
        below = list(versions[page.end_index() : page.end_index() + 1]) if shown else []
        rows = []
        for version, older in zip(shown, [*shown[1:], *below, None], strict=False):
            rows.append(
                {
                    "version": version,
                    "author": history.author(version),
                    "changed": history.changed_fields(
                        self.model, older.field_dict if older else None, version.field_dict
                    ),
                    "diff_url": self._url("version_diff", obj.pk, version.pk),
                    "restore_url": self._url("version_restore", obj.pk, version.pk),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("History: %s") % obj,
            "object": obj,
            "opts": self.opts,
            "rows": rows,
            "page_obj": page,
            "page_range": page.paginator.get_elided_page_range(page.number),
            "can_restore": self.has_change_permission(request, obj),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/history/object_history.html", context)

    # --- diff and restore ---------------------------------------------------------------------

    def version_diff_view(self, request, object_id, version_id):
        """What changed between version ``version_id`` and the object as it is now."""
        obj, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        try:
            version = history.version_of(obj, version_id)
        except history.RestoreError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(self._url("history", obj.pk))
        diffs = history.field_diffs(self.model, version.field_dict, history.current_values(obj))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Version %(id)s compared with the current %(kind)s")
            % {"id": version.pk, "kind": self.opts.verbose_name},
            "object": obj,
            "opts": self.opts,
            "version": version,
            "author": history.author(version),
            "diffs": diffs,
            "restore_url": self._url("version_restore", obj.pk, version.pk),
            "can_restore": self.has_change_permission(request, obj),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/history/version_diff.html", context)

    @method_decorator(require_POST)
    def version_restore_view(self, request, object_id, version_id):
        """Restore version ``version_id`` (POST only) as a new version."""
        obj, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        try:
            history.restore(obj, version_id, user=request.user)
        except history.RestoreError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(self._url("history", obj.pk))
        messages.success(
            request, _("Version %(id)s restored; the restore is a new version.") % {"id": version_id}
        )
        return HttpResponseRedirect(self._url("change", obj.pk))

    # --- no silent overwrite ------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        (name, options), *rest = fieldsets
        return [(name, {**options, "fields": [*options["fields"], EDIT_VERSION_FIELD]}), *rest]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = _stamped(kwargs.get("form", self.form))
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            form.base_fields[EDIT_VERSION_FIELD].initial = history.latest_version_id(obj)
        return form


def _stamped(form_class):
    """``form_class`` with the hidden version stamp and the check against newer versions."""

    def clean(self):
        cleaned = super(stamped, self).clean()
        opened = cleaned.get(EDIT_VERSION_FIELD)
        if opened is None or self.instance.pk is None:
            return cleaned
        latest = history.latest_version_id(self.instance)
        if opened == latest or not latest:
            return cleaned
        self.conflict = _conflict(self.instance, opened, latest)
        # Saving this form again is then a deliberate choice to overwrite what was shown.
        self.data = self.data.copy()
        self.data[self.add_prefix(EDIT_VERSION_FIELD)] = str(latest)
        other = self.conflict["latest"]
        raise forms.ValidationError(
            _(
                "%(author)s saved this %(kind)s at %(when)s, after you opened it. Their change is "
                "shown below and your text is kept in the form: merge what you need and save "
                "again to replace their version (it stays in the history)."
            )
            % {
                "author": history.author(other),
                "kind": self.instance._meta.verbose_name,
                "when": localize(template_localtime(other.revision.date_created)),
            },
            code="edit_conflict",
        )

    stamped = type(
        f"Stamped{form_class.__name__}",
        (form_class,),
        {
            EDIT_VERSION_FIELD: forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput),
            "clean": clean,
            "conflict": None,
        },
    )
    return stamped


def _conflict(obj, opened_id: int, latest_id: int) -> dict:
    """The other change: from the version the form was opened at to the newest one."""
    latest = Version.objects.select_related("revision__user").get(pk=latest_id)
    opened = Version.objects.filter(pk=opened_id).first() if opened_id else None
    before = opened.field_dict if opened is not None else {}
    return {"latest": latest, "diffs": history.field_diffs(type(obj), before, latest.field_dict)}
