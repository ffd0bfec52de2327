import errno
import logging

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from config.admin import MarkdownPreviewMixin
from config.history import HistoryAdminMixin
from config.paging import EstimatedCountPaginator
from resources.forms import ResourceAdminForm
from resources.models import Recommendation, Resource

logger = logging.getLogger(__name__)


class RecommendationInline(admin.TabularInline):
    """The questions recommending a resource, in order, edited on the resource."""

    model = Recommendation
    autocomplete_fields = ["question"]
    extra = 1
    ordering = ["position", "id"]
    verbose_name = _("recommending question")
    verbose_name_plural = _("questions that recommend this resource")


@admin.register(Resource)
class ResourceAdmin(HistoryAdminMixin, MarkdownPreviewMixin, admin.ModelAdmin):
    form = ResourceAdminForm
    markdown_fields = ("description",)
    list_display = ["title", "file_type", "human_size", "downloads", "is_published", "created"]
    list_filter = ["is_published", "file_type", "created"]
    search_fields = ["title", "key", "original_name", "description"]
    date_hierarchy = "created"
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = ["original_name", "file_type", "human_size", "sha256", "downloads", "updated"]
    inlines = [RecommendationInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "key", "is_published", "created"]}),
        (_("File"), {"fields": ["file", "original_name", "file_type", "human_size", "sha256"]}),
        (_("Description"), {"fields": ["description"]}),
        (_("Counters"), {"fields": ["downloads", "updated"]}),
    ]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A file the disk has no room for rolls the whole save back (the view's
        transaction, the storage's partial file) and the editor is told why."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            logger.error("resource upload not stored: %s", exc)
            self.message_user(
                request,
                _("The file could not be stored: the server's disk is full. Nothing was saved."),
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())

    @admin.display(description=_("size"), ordering="size")
    def human_size(self, resource):
        return filesizeformat(resource.size)
