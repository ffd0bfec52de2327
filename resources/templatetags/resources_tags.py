from django import template

from resources.models import Resource

register = template.Library()


@register.inclusion_tag("resources/includes/latest_resources.html")
def latest_resources(limit=5):
    """A sidebar panel of the newest published resources (one query)."""
    return {"resources": list(Resource.objects.published().sorted_by("new")[:limit])}
