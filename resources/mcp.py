"""The MCP server's resource tools (``config.mcp``): the downloadable resources and their files."""

from django.core.paginator import EmptyPage, Paginator

from config.jsonapi import link
from config.mcp import Tool, ToolError, ToolResult
from resources.models import Resource
from resources.schemas import resource_summary

PAGE_SIZE = 20


def list_resources(request, type: str = "", page: int = 1) -> ToolResult:  # noqa: A002
    resources = Resource.objects.published().sorted_by("new")
    if type:
        resources = resources.filter(file_type=type.strip().lstrip(".").lower())
    paginator = Paginator(resources, PAGE_SIZE)
    try:
        listed = paginator.page(page)
    except EmptyPage as exc:
        raise ToolError(f"page {page} is past the last page of resources.") from exc
    items = [{**resource_summary(request, r), "summary": r.summary} for r in listed.object_list]
    lines = [
        f"- [{item['title']}]({item['url']}) (id {item['id']}, {item['type']}, {item['size']} bytes): "
        f"{item['summary']}"
        for item in items
    ] or ["(no resources)"]
    if listed.has_next():
        lines.append(f"More: page {page + 1} of {paginator.num_pages}.")
    return ToolResult("\n".join(lines), {"page": page, "pages": paginator.num_pages, "results": items})


def get_resource(request, id: int) -> ToolResult:  # noqa: A002
    resource = Resource.objects.published().with_recommending_questions().filter(pk=id).first()
    if resource is None:
        raise ToolError(f"No published resource has id {id}. list_resources finds ids.")
    questions = [link(request, recommendation.question) for recommendation in resource.published_links]
    data = {
        **resource_summary(request, resource),
        "description_markdown": resource.description,
        "questions": questions,
    }
    lines = [
        f"# {resource.title}",
        "",
        f"- Page: {data['url']}",
        f"- Download: {data['download_url']}",
        f"- Type: {resource.file_type}, {resource.size} bytes",
        "",
        resource.description.strip(),
    ]
    if questions:
        lines += ["", "## Recommended by", ""] + [f"- [{q['title']}]({q['url']})" for q in questions]
    return ToolResult("\n".join(lines) + "\n", data)


TOOLS = [
    Tool(
        name="list_resources",
        title="List resources",
        description="Downloadable resources (documents, archives, programs), newest first, 20 a page.",
        handler=list_resources,
        properties={
            "type": {"type": "string", "maxLength": 20, "description": "File type: pdf, zip, exe, …"},
            "page": {"type": "integer", "minimum": 1, "maximum": 10**6, "description": "Page, from 1."},
        },
    ),
    Tool(
        name="get_resource",
        title="Read a resource",
        description="One resource: its description as Markdown, download URL and recommending questions.",
        handler=get_resource,
        properties={"id": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}},
        required=("id",),
    ),
]
