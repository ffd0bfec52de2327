import django_filters
from django.utils.translation import gettext_lazy as _

from resources.models import Resource


class ResourceFilter(django_filters.FilterSet):
    """Filters of /resources/ and /api/resources/: ``type`` (file extension) and ``sort``."""

    SORT_CHOICES = [("new", _("Newest")), ("downloads", _("Most downloaded"))]

    type = django_filters.CharFilter(method="filter_type", label=_("Type"))
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="filter_sort", label=_("Sort"), empty_label=None
    )

    class Meta:
        model = Resource
        fields = ["type", "sort"]

    def filter_type(self, queryset, name, value):
        return queryset.filter(file_type=value.strip().lstrip(".").lower())

    def filter_sort(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        # An unknown or missing sort falls back to newest instead of erroring.
        return queryset.sorted_by(self.form.cleaned_data.get("sort") or "new")
