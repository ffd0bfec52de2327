from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from qa.admin_figures import FigureInline
from qa.markdown import render_markdown
from qa.models import Question, RelatedQuestion, Tag

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
            return JsonResponse({"error": str(_("The text is too long to preview."))}, status=413)
        figures = self.preview_figures(request, request.POST.get("object", ""))
        return JsonResponse({"html": render_markdown(text, figures=figures)})


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


@admin.register(Question)
class QuestionAdmin(MarkdownPreviewMixin, admin.ModelAdmin):
    markdown_fields = ("body", "answer")
    list_display = ["title", "is_published", "views", "created", "updated"]
    list_filter = ["is_published", "tags", "created"]
    search_fields = ["title", "key", "body", "answer"]
    date_hierarchy = "created"
    filter_horizontal = ["tags"]
    readonly_fields = ["views", "updated"]
    inlines = [RelatedQuestionInline, FigureInline]
    actions = ["publish", "unpublish"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "key", "tags", "is_published", "created"]}),
        (_("Question"), {"fields": ["body"]}),
        (_("Answer"), {"fields": ["answer"]}),
        (_("Counters"), {"fields": ["views", "updated"]}),
    ]

    def preview_figures(self, request, object_id):
        question = Question.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if question is None or not self.has_change_permission(request, question):
            return {}
        return question.figure_refs()

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
