"""Filters the question and resource lists share (django-filter)."""

import django_filters
from django.utils.translation import gettext_lazy as _


class LenientChoiceField(django_filters.fields.ChoiceField):
    """A choice that cleans an unknown value to ``""`` instead of failing the form."""

    def to_python(self, value):
        value = super().to_python(value)
        return value if self.valid_value(value) else ""


class SortFilter(django_filters.ChoiceFilter):
    """``sort``: a key of the QuerySet's ``sorted_by``; a missing or unknown one means ``default``.

    A stale or hand-typed link sorts the default way rather than erroring.
    """

    field_class = LenientChoiceField

    def __init__(self, *args, default: str = "new", **kwargs):
        self.default = default
        kwargs.setdefault("label", _("Sort"))
        kwargs.setdefault("empty_label", None)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        return qs.sorted_by(value or self.default)
