"""How a resource is described in JSON: the API's lists and the questions that recommend it."""

from ninja import Schema
from pydantic import Field


class ResourceSummary(Schema):
    id: int
    title: str
    type: str = Field(description="File type: the extension in lower case (pdf, zip, exe, …).")
    size: int = Field(description="Size in bytes.")
    downloads: int
    url: str = Field(description="Absolute URL of the resource page.")
    download_url: str = Field(description="Absolute URL of the file itself.")


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
