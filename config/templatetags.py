"""Template tags every page may use: ``{% load site %}`` (registered in settings.TEMPLATES)."""

from django import template
from django.utils import timezone

register = template.Library()


@register.simple_tag(takes_context=True)
def absolute_url(context, path: str) -> str:
    """``path`` as an absolute URL on the host the request came to: canonical links, examples."""
    return context["request"].build_absolute_uri(path)


@register.filter
def datetime_attr(value) -> str:
    """A datetime for ``<time datetime>``: local time to the second with its offset.

    HTML allows at most three fraction digits; times saved from the admin carry
    microseconds, which ``date:"c"`` would print.
    """
    if not value:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.isoformat(timespec="seconds")
