"""JSON API of resources: the read-only list and detail (SPEC §9) and the image tool (SPEC §8),
a router of ``config.api``."""

from typing import Annotated, Literal

from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from config.jsonapi import (
    Error,
    Link,
    ObjectId,
    Page,
    PageNumber,
    Timestamp,
    blank_means,
    link,
    paginated,
    text_param,
)
from config.ratelimit import ratelimit
from resources.downloads import attachment_header
from resources.filters import ResourceFilter
from resources.imaging import MAX_BYTES, OUTPUT_FORMATS
from resources.models import Resource
from resources.schemas import ResourceSummary, resource_summary
from resources.tools import RefusedUpload, check_request_size, run_tool

router = Router(tags=["resources"])

ResourceSort = Annotated[Literal["new", "downloads"], blank_means("new")]


class ResourceDetail(ResourceSummary):
    description_html: str = Field(description="The description, rendered.")
    original_name: str = Field(description="The file name it was uploaded with.")
    sha256: str = Field(description="SHA-256 of the file, hex.")
    created: Timestamp
    questions: list[Link] = Field(description="Published questions that recommend it.")


class ResourcePage(Page[ResourceSummary]):
    pass


class ResourceListParams(Schema):
    type: text_param(20) = Field("", description="File type (extension): pdf, zip, exe, …")
    sort: ResourceSort = "new"
    page: PageNumber = 1


@router.get(
    "/resources/",
    response={200: ResourcePage, 400: Error, 404: Error},
    url_name="resources",
    summary="List resources",
)
def resource_list(request, params: Query[ResourceListParams]):
    """Published resources, newest first (or most downloaded), 20 a page."""
    filterset = ResourceFilter(
        {"type": params.type, "sort": params.sort}, queryset=Resource.objects.published()
    )
    return paginated(request, filterset.qs, resource_summary, number=params.page)


@router.get(
    "/resources/{id:pk}/",
    response={200: ResourceDetail, 404: Error},
    url_name="resource",
    summary="One resource",
)
def resource_detail(request, pk: ObjectId):
    """A published resource with the questions that recommend it; unknown ids are a 404."""
    resource = Resource.objects.published().with_recommending_questions().filter(pk=pk).first()
    if resource is None:
        raise HttpError(404, "resource not found")
    return {
        **resource_summary(request, resource),
        "description_html": resource.description_html,
        "original_name": resource.original_name,
        "sha256": resource.sha256,
        "created": resource.created.isoformat(),
        "questions": [link(request, link_.question) for link_ in resource.published_links],
    }


IMAGE_TYPES = sorted({content_type for _extension, content_type in OUTPUT_FORMATS.values()})
INVERT_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {
                            "type": "string",
                            "format": "binary",
                            "description": f"At most {MAX_BYTES // 2**20} MiB and 40 megapixels.",
                        },
                        "mode": {"type": "string", "enum": ["gray", "color"], "default": "gray"},
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "The inverted image, as an attachment, in the upload's format when it can "
            "be written (else PNG).",
            "headers": {
                "Content-Disposition": {
                    "schema": {"type": "string"},
                    "description": "attachment; filename*=UTF-8''NAME-inverted.EXT",
                }
            },
            "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES},
        }
    },
}


@router.post(
    "/tools/invert/",
    response={400: Error, 413: Error, 415: Error, 429: Error},
    url_name="invert",
    summary="Invert an image",
    tags=["image tool"],
    openapi_extra=INVERT_OPENAPI,
)
@ratelimit("invert")
def invert(request):
    """The image tool: multipart `image` and optional `mode` (`gray`, the default, or `color`);
    answers the inverted image's bytes. Refused uploads answer `{"error"}`: 400 unreadable
    or not an image, 413 too large, 415 an unsupported kind of file, 429 over the rate limit."""
    try:
        check_request_size(request)
        result = run_tool(request)[1]
    except RefusedUpload as exc:
        raise HttpError(exc.status, exc.message) from exc
    response = HttpResponse(result.data, content_type=result.content_type)
    response["Content-Disposition"] = attachment_header(result.filename)
    add_never_cache_headers(response)
    return response
