"""The site for readers that are not browsers: questions as Markdown and ``/llms.txt`` (SPEC §9).

A question's Markdown document is its source as the editors wrote it (math
stays LaTeX), under a title heading with its URL and tags. The same document
is served at ``/questions/<id>/<slug>.md`` and returned by the MCP server's
``get_question`` tool. Nothing here counts a view.
"""

import re

from django.core.cache import cache
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect
from django.urls import reverse
from django.views.decorators.http import require_safe

from qa import freshness
from qa.models import Question, Tag
from resources.models import Resource

MARKDOWN_TYPE = "text/markdown; charset=utf-8"
# /llms.txt lists this many of the newest questions; the sitemap lists them all.
LLMS_QUESTIONS = 200
LLMS_RESOURCES = 50


def markdown_url(question) -> str:
    return reverse("qa:markdown", kwargs={"pk": question.pk, "slug": question.slug or "q"})


# The target of ``![alt](figure:NAME)``, a reference only this site can resolve.
_FIGURE_TARGET = re.compile(r"\]\(figure:([A-Za-z0-9_-]+)")


def with_figure_urls(text: str, question, absolute) -> str:
    """``text`` with each ``figure:NAME`` of ``question`` replaced by the image's
    absolute URL, so a reader outside the site can fetch it; unknown names stay."""
    if "figure:" not in text:
        return text
    urls = {name: absolute(ref.url) for name, ref in question.figure_refs().items()}
    return _FIGURE_TARGET.sub(lambda m: f"]({urls[m.group(1)]}" if m.group(1) in urls else m.group(0), text)


def question_markdown(question, tags, absolute) -> str:
    """``question``'s Markdown document; ``absolute(path)`` makes a path an absolute URL.
    Figures are absolute image URLs; math stays LaTeX."""
    lines = [f"# {question.title}", "", f"- URL: {absolute(question.get_absolute_url())}"]
    if tags:
        names = ", ".join(f"[{tag.name}]({absolute(tag.get_absolute_url())})" for tag in tags)
        lines.append(f"- Tags: {names}")
    lines.append(f"- Published: {question.created.date().isoformat()}")
    if question.body.strip():
        lines += ["", "## Question", "", with_figure_urls(question.body.strip(), question, absolute)]
    lines += ["", "## Answer", "", with_figure_urls(question.answer.strip(), question, absolute), ""]
    return "\n".join(lines)


def tags_with_counts():
    """Every tag with at least one published question, with ``count``, most used first."""
    published = Question.objects.published()
    return (
        Tag.objects.annotate(count=Count("questions", filter=Q(questions__in=published)))
        .filter(count__gt=0)
        .order_by("-count", "name")
    )


def llms_txt(absolute) -> str:
    """The ``/llms.txt`` document: what the site is and where its parts are, as Markdown links."""
    questions = Question.objects.published().sorted_by("new").only("pk", "slug", "title", "excerpt")
    lines = [
        "# 知库 Zhiku",
        "",
        "> Zhiku (知库) is a Q&A knowledge site: each page is one technical question with a "
        "well-written answer, mostly in Chinese with English technical words, plus related "
        "questions, downloadable resources and an online image inversion tool.",
        "",
        "Every question is also served as Markdown (the source the editors wrote, math as LaTeX) "
        "at its page's address with `.md` in place of the trailing slash, as linked below. "
        f"The question list holds the newest {LLMS_QUESTIONS}; the sitemap lists every one.",
        "",
        "## Questions",
        "",
    ]
    for question in questions[:LLMS_QUESTIONS]:
        summary = question.excerpt[:120].replace("\n", " ").strip()
        lines.append(f"- [{question.title}]({absolute(markdown_url(question))}): {summary}")
    lines += ["", "## Tags", ""]
    for tag in tags_with_counts():
        lines.append(f"- [{tag.name}]({absolute(tag.get_absolute_url())}): {tag.count} questions")
    lines += ["", "## Resources", ""]
    for resource in Resource.objects.published().sorted_by("new")[:LLMS_RESOURCES]:
        lines.append(f"- [{resource.title}]({absolute(resource.get_absolute_url())}): {resource.file_type}")
    lines += [
        "",
        "## API",
        "",
        f"- [OpenAPI document]({absolute('/api/openapi.json')}): the read-only JSON API, described",
        f"- [API documentation]({absolute('/api/docs/')}): the same, for people",
        f"- [MCP server]({absolute('/mcp')}): Model Context Protocol, Streamable HTTP, stateless; "
        "tools search_questions, get_question, get_related, list_tags, list_resources, get_resource",
        "",
        "## Optional",
        "",
        f"- [Sitemap]({absolute('/sitemap.xml')}): every published question, tag and resource",
        f"- [RSS feed]({absolute('/feed/')}): the newest questions",
        "",
    ]
    return "\n".join(lines)


@require_safe
def question_md(request, pk, slug):
    """A published question as Markdown; a wrong slug redirects to the canonical ``.md``."""
    question = Question.objects.published().filter(pk=pk).first()
    if question is None:
        raise Http404("No such question.")
    if slug != (question.slug or "q"):
        return HttpResponsePermanentRedirect(markdown_url(question))
    text = question_markdown(question, list(question.tags.all()), request.build_absolute_uri)
    return HttpResponse(text, content_type=MARKDOWN_TYPE)


@require_safe
def llms_txt_view(request):
    """``/llms.txt``, built once per content version and host."""
    key = f"llms.txt:{freshness.current()}:{request.build_absolute_uri('/')}"
    text = cache.get(key)
    if text is None:
        text = llms_txt(request.build_absolute_uri)
        cache.set(key, text, 3600)
    return HttpResponse(text, content_type=MARKDOWN_TYPE)
