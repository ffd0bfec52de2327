"""JSON API of resources: the read-only list and detail (SPEC §9) and the image tool (SPEC §8)."""

from django.http import HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from config import converters  # noqa: F401  (registers <id:...>)
from config.jsonapi import json_error, json_response, paginated
from config.ratelimit import ratelimit
from resources.downloads import attachment_header
from resources.filters import ResourceFilter
from resources.models import Resource
from resources.tools import RefusedUpload, check_request_size, run_tool

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
    return json_response(data)


@csrf_exempt  # a stateless transformation for scripts; there is no session state to forge
@never_cache
@ratelimit("invert")
def invert(request):
    """``POST /api/tools/invert/``: multipart ``image`` and ``mode``; answers the image or ``{"error"}``."""
    if request.method != "POST":
        response = json_error(_("Use POST with multipart/form-data fields “image” and “mode”."), 405)
        response["Allow"] = "POST"
        return response
    try:
        check_request_size(request)
        result = run_tool(request)[1]
    except RefusedUpload as exc:
        return json_error(exc.message, exc.status)
    response = HttpResponse(result.data, content_type=result.content_type)
    response["Content-Disposition"] = attachment_header(result.filename)
    return response


urlpatterns = [
    path("resources/", resource_list, name="resources"),
    path("resources/<id:pk>/", resource_detail, name="resource"),
    path("tools/invert/", invert, name="invert"),
]
