from django.contrib import admin, messages
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.admin import MarkdownPreviewMixin
from qa.models import Question, RelatedQuestion, SynonymGroup, Tag
from resources.models import Recommendation


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "question_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(question_count=Count("questions"))

    @admin.display(description=_("questions"), ordering="question_count")
    def question_count(self, tag):
        return tag.question_count


class RelatedQuestionInline(admin.TabularInline):
    model = RelatedQuestion
    fk_name = "from_question"
    autocomplete_fields = ["to_question"]
    extra = 1
    ordering = ["position", "id"]


class RecommendedResourceInline(admin.TabularInline):
    """The resources a question recommends, in order; resources.admin edits the same links
    from the resource's side."""

    model = Recommendation
    autocomplete_fields = ["resource"]
    extra = 1
    ordering = ["position", "id"]
    verbose_name = _("recommended resource")
    verbose_name_plural = _("recommended resources")


@admin.register(Question)
class QuestionAdmin(MarkdownPreviewMixin, admin.ModelAdmin):
    markdown_fields = ("body", "answer")
    list_display = ["title", "is_published", "views", "created", "updated"]
    list_filter = ["is_published", "tags", "created"]
    search_fields = ["title", "key", "body", "answer"]
    date_hierarchy = "created"
    filter_horizontal = ["tags"]
    readonly_fields = ["views", "updated"]
    inlines = [RelatedQuestionInline, RecommendedResourceInline]
    actions = ["publish", "unpublish"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "key", "tags", "is_published", "created"]}),
        (_("Question"), {"fields": ["body"]}),
        (_("Answer"), {"fields": ["answer"]}),
        (_("Counters"), {"fields": ["views", "updated"]}),
    ]

    @admin.action(description=_("Publish the selected questions"))
    def publish(self, request, queryset):
        self._set_published(request, queryset, True)

    @admin.action(description=_("Unpublish the selected questions"))
    def unpublish(self, request, queryset):
        self._set_published(request, queryset, False)

    def _set_published(self, request, queryset, value):
        # Saved one by one (not queryset.update) so save() hooks, such as
        # search indexing and cache invalidation, see every change.
        count = 0
        for question in queryset:
            question.is_published = value
            question.save(update_fields=["is_published", "updated"])
            count += 1
        message = ngettext("%(count)d question updated.", "%(count)d questions updated.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


@admin.register(SynonymGroup)
class SynonymGroupAdmin(admin.ModelAdmin):
    """Terms search treats as one (docs/search.md); a save applies to the next search."""

    list_display = ["__str__", "updated"]
    search_fields = ["terms"]
