import django_filters
from django.utils.translation import gettext_lazy as _

from config.filters import SortFilter
from resources.models import Resource


class ResourceFilter(django_filters.FilterSet):
    """Filters of /resources/ and /api/resources/: ``type`` (file extension) and ``sort``."""

    type = django_filters.CharFilter(method="filter_type", label=_("Type"))
    sort = SortFilter(choices=[("new", _("Newest")), ("downloads", _("Most downloaded"))])

    class Meta:
        model = Resource
        fields = ["type", "sort"]

    def filter_type(self, queryset, name, value):
        return queryset.filter(file_type=value.strip().lstrip(".").lower())
