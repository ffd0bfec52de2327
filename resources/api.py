"""Read-only JSON API for resources (SPEC §9)."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.http import require_safe

from config import converters  # noqa: F401  (registers <id:...>)
from qa.api import json_error, paginated
from resources.filters import ResourceFilter
from resources.models import Resource

app_name = "resources-api"


def resource_summary(request, resource) -> dict:
    return {
        "id": resource.pk,
        "title": resource.title,
        "type": resource.file_type,
        "size": resource.size,
        "downloads": resource.downloads,
        "url": request.build_absolute_uri(resource.get_absolute_url()),
        "download_url": request.build_absolute_uri(resource.get_download_url()),
    }


@require_safe
def resource_list(request):
    filterset = ResourceFilter(request.GET, queryset=Resource.objects.published())
    return paginated(request, filterset.qs, resource_summary)


@require_safe
def resource_detail(request, pk):
    resource = Resource.objects.published().with_recommending_questions().filter(pk=pk).first()
    if resource is None:
        return json_error("resource not found", 404)
    data = resource_summary(request, resource)
    data.update(
        description_html=resource.description_html,
        original_name=resource.original_name,
        sha256=resource.sha256,
        created=resource.created.isoformat(),
        questions=[
            {"id": q.pk, "title": q.title, "url": request.build_absolute_uri(q.get_absolute_url())}
            for q in (link.question for link in resource.published_links)
        ],
    )
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


urlpatterns = [
    path("resources/", resource_list, name="resources"),
    path("resources/<id:pk>/", resource_detail, name="resource"),
]
