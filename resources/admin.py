from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from config.admin import MarkdownPreviewMixin
from config.paging import EstimatedCountPaginator
from resources.forms import ResourceAdminForm
from resources.models import Recommendation, Resource


class RecommendationInline(admin.TabularInline):
    """The questions recommending a resource, in order, edited on the resource."""

    model = Recommendation
    autocomplete_fields = ["question"]
    extra = 1
    ordering = ["position", "id"]
    verbose_name = _("recommending question")
    verbose_name_plural = _("questions that recommend this resource")


@admin.register(Resource)
class ResourceAdmin(MarkdownPreviewMixin, admin.ModelAdmin):
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

    @admin.display(description=_("size"), ordering="size")
    def human_size(self, resource):
        return filesizeformat(resource.size)
