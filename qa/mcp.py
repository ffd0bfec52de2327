"""The MCP server's question tools (``config.mcp``): search, read, related questions, tags.

Answers are the editors' Markdown (math as LaTeX) with absolute URLs, the same
documents as the ``.md`` pages (``qa.llms``). Only published questions are seen,
and nothing here counts a view.
"""

from django.core.paginator import EmptyPage

from config.mcp import Tool, ToolError, ToolResult
from qa.llms import markdown_url, question_markdown, tags_with_counts, with_figure_urls
from qa.models import Question
from qa.search.listing import listed_page
from qa.search.tokenize import MAX_QUERY_CHARS

ID = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1, "description": "A question's id."}


def _published(pk: int) -> Question:
    question = Question.objects.published().prefetch_related("tags").filter(pk=pk).first()
    if question is None:
        raise ToolError(f"No published question has id {pk}. search_questions finds ids.")
    return question


def _link(request, question) -> dict:
    return {
        "id": question.pk,
        "title": question.title,
        "url": request.build_absolute_uri(question.get_absolute_url()),
        "markdown_url": request.build_absolute_uri(markdown_url(question)),
    }


def search_questions(request, query: str, tag: str = "", page: int = 1) -> ToolResult:
    if not query.strip():
        raise ToolError("query must name something to search for.")
    try:
        listed = listed_page({"q": query, "tag": tag, "page": page})
    except EmptyPage as exc:
        raise ToolError(f"page {page} is past the last page of results.") from exc
    excerpts = dict(
        Question.objects.filter(pk__in=[item["id"] for item in listed.items]).values_list("pk", "excerpt")
    )
    origin = request.build_absolute_uri("/")[:-1]
    results = []
    for item in listed.items:
        path = item["url"]
        results.append(
            {
                "id": item["id"],
                "title": item["title"],
                "url": origin + path,
                "markdown_url": origin + path.rstrip("/") + ".md",
                "tags": item["tags"],
                "excerpt": excerpts.get(item["id"], ""),
            }
        )
    lines = [f"{listed.count} questions match “{query}”" + (f" with tag “{tag}”" if tag else "") + "."]
    for n, item in enumerate(results, start=(listed.number - 1) * 20 + 1):
        tags = f" — tags: {', '.join(item['tags'])}" if item["tags"] else ""
        lines.append(f"{n}. [{item['title']}]({item['url']}) (id {item['id']}){tags}\n   {item['excerpt']}")
    if listed.number < listed.pages:
        lines.append(f"More: page {listed.number + 1} of {listed.pages}.")
    data = {"count": listed.count, "page": listed.number, "pages": listed.pages, "results": results}
    return ToolResult("\n".join(lines), data)


def get_question(request, id: int) -> ToolResult:  # noqa: A002 - the tool's argument name
    question = _published(id)
    tags = list(question.tags.all())
    related = Question.objects.related_to(question)
    text = question_markdown(question, tags, request.build_absolute_uri)
    if related:
        text += (
            "\n## Related questions\n\n"
            + "\n".join(
                f"- [{r.title}]({request.build_absolute_uri(r.get_absolute_url())}) (id {r.pk})"
                for r in related
            )
            + "\n"
        )
    data = {
        **_link(request, question),
        "tags": [tag.name for tag in tags],
        "created": question.created.isoformat(),
        "question_markdown": with_figure_urls(question.body, question, request.build_absolute_uri),
        "answer_markdown": with_figure_urls(question.answer, question, request.build_absolute_uri),
        "related": [_link(request, r) for r in related],
    }
    return ToolResult(text, data)


def get_related(request, id: int) -> ToolResult:  # noqa: A002
    question = _published(id)
    related = [_link(request, r) for r in Question.objects.related_to(question)]
    lines = [f"Questions related to “{question.title}”:"]
    lines += [f"- [{r['title']}]({r['url']}) (id {r['id']})" for r in related] or ["(none)"]
    return ToolResult("\n".join(lines), {"id": question.pk, "related": related})


def list_tags(request) -> ToolResult:
    tags = [
        {"name": tag.name, "url": request.build_absolute_uri(tag.get_absolute_url()), "count": tag.count}
        for tag in tags_with_counts()
    ]
    lines = [f"- [{t['name']}]({t['url']}): {t['count']} questions" for t in tags] or ["(no tags yet)"]
    return ToolResult("\n".join(lines), {"tags": tags})


TOOLS = [
    Tool(
        name="search_questions",
        title="Search questions",
        description="Full-text search of Zhiku's questions and answers (Chinese and English), best "
        "match first, 20 a page. Returns titles, URLs, ids, tags and excerpts; get_question reads one.",
        handler=search_questions,
        properties={
            "query": {"type": "string", "maxLength": MAX_QUERY_CHARS, "description": "Search words."},
            "tag": {"type": "string", "maxLength": 100, "description": "Only questions with this tag."},
            "page": {"type": "integer", "minimum": 1, "maximum": 10**6, "description": "Page, from 1."},
        },
        required=("query",),
    ),
    Tool(
        name="get_question",
        title="Read a question",
        description="One question with its answer as Markdown (math as LaTeX), its URL, tags and "
        "related questions.",
        handler=get_question,
        properties={"id": ID},
        required=("id",),
    ),
    Tool(
        name="get_related",
        title="Related questions",
        description="The questions related to one question: curated first, then the most similar.",
        handler=get_related,
        properties={"id": ID},
        required=("id",),
    ),
    Tool(
        name="list_tags",
        title="List tags",
        description="Every tag in use, with how many questions carry it and its page's URL.",
        handler=list_tags,
    ),
]
