from django.contrib import admin, messages
from django.db.models import OuterRef, Q
from django.db.models.functions import Now
from django.utils.formats import localize
from django.utils.timezone import template_localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from config.admin import MarkdownPreviewMixin
from config.history import HistoryAdminMixin
from config.paging import CappedCount, EstimatedCountPaginator
from qa.admin_figures import FigureInline
from qa.models import Question, RelatedQuestion, SynonymGroup, Tag
from qa.search import search
from resources.models import Recommendation

# The tag list counts each tag's questions this far, then says "over" it.
COUNT_UP_TO = 1000


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "question_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_queryset(self, request):
        # Counted per listed tag and only up to COUNT_UP_TO links: a popular tag of a big
        # site has hundreds of thousands, and a page lists a hundred tags.
        links = Question.tags.through.objects.filter(tag=OuterRef("pk")).order_by().values("tag")
        count = CappedCount(links[: COUNT_UP_TO + 1])
        return super().get_queryset(request).annotate(question_count=count)

    @admin.display(description=_("questions"))
    def question_count(self, tag):
        if tag.question_count > COUNT_UP_TO:
            return _("over %(count)s") % {"count": localize(COUNT_UP_TO)}
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


_PUBLISHED = pgettext_lazy("publication state", "Published")


class PublicationStateFilter(admin.SimpleListFilter):
    """Draft, scheduled (published but ``publish_at`` still ahead) or published, by the database clock."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("draft", _("Draft")), ("scheduled", _("Scheduled")), ("published", _PUBLISHED)]

    def queryset(self, request, queryset):
        if self.value() == "draft":
            return queryset.filter(is_published=False)
        if self.value() == "scheduled":
            return queryset.filter(is_published=True, publish_at__gt=Now())
        if self.value() == "published":
            return queryset.published()
        return queryset


@admin.register(Question)
class QuestionAdmin(HistoryAdminMixin, MarkdownPreviewMixin, admin.ModelAdmin):
    markdown_fields = ("body", "answer")
    list_display = ["title", "state", "views", "created", "updated"]
    list_filter = [PublicationStateFilter, "tags", "created"]
    search_fields = ["title", "key", "body", "answer"]
    # A million rows (SPEC §12): no full count, no COUNT(*) or date hierarchy over the
    # whole table, no select of every tag.
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    autocomplete_fields = ["tags"]
    readonly_fields = ["views", "updated"]
    inlines = [RelatedQuestionInline, FigureInline, RecommendedResourceInline]
    actions = ["publish", "unpublish"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "key", "tags", "is_published", "publish_at", "created"]}),
        (_("Question"), {"fields": ["body"]}),
        (_("Answer"), {"fields": ["answer"]}),
        (_("Counters"), {"fields": ["views", "updated"]}),
    ]

    def preview_figures(self, request, object_id):
        question = Question.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if question is None or not self.has_change_permission(request, question):
            return {}
        return question.figure_refs()

    @admin.display(description=_("state"), ordering="is_published")
    def state(self, question):
        state = question.publication_state
        if state == "scheduled":
            return _("Scheduled for %(time)s") % {"time": localize(template_localtime(question.publish_at))}
        return _("Draft") if state == "draft" else _PUBLISHED

    def get_search_results(self, request, queryset, search_term):
        """The site's search index for visible questions (ranked ids, no scan of the
        text columns); drafts and scheduled ones, which it does not return, by title;
        and exact keys and ids."""
        term = search_term.strip()
        if not term:
            return queryset, False
        match = (
            Q(pk__in=search(term).ids)
            | Q(key=term)
            | (Q(title__icontains=term) & (Q(is_published=False) | Q(publish_at__gt=Now())))
        )
        if term.isdigit():
            match |= Q(pk=int(term))
        return queryset.filter(match), False

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
