import django_filters
from django.utils.translation import gettext_lazy as _

from config.filters import SortFilter
from qa.models import Question, Tag


class QuestionFilter(django_filters.FilterSet):
    """Filters of /questions/ and /api/questions/: ``tag`` (slug or name) and ``sort``."""

    tag = django_filters.CharFilter(method="filter_tag", label=_("Tag"))
    sort = SortFilter(
        choices=[("new", _("Newest")), ("views", _("Most viewed")), ("updated", _("Recently updated"))]
    )

    class Meta:
        model = Question
        fields = ["tag", "sort"]

    def filter_tag(self, queryset, name, value):
        tag = Tag.objects.filter(slug=value).first() or Tag.objects.filter(name__iexact=value).first()
        return queryset.filter(tags=tag) if tag else queryset.none()

    def filter_queryset(self, queryset):
        if "tag" in self.form.errors:
            # A tag the form refuses (e.g. one with a NUL) names no tag: nothing
            # matches, as for an unknown tag, rather than the filter vanishing.
            return queryset.none()
        return super().filter_queryset(queryset)
