"""Read-only JSON API for questions (SPEC §9): a router of ``config.api``. API reads never count views."""

from typing import Annotated, Literal

from django.core.paginator import EmptyPage, PageNotAnInteger
from django.http import HttpResponse
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
    page_data,
    page_error,
    paginated,
    text_param,
)
from config.ratelimit import hit, too_many_requests
from qa.filters import QuestionFilter
from qa.models import Question
from qa.paging import CachedCountPaginator
from qa.search.listing import listed_page
from qa.search.suggest import suggestions
from qa.search.tokenize import MAX_QUERY_CHARS
from resources.models import Resource
from resources.schemas import ResourceSummary, resource_summary

router = Router(tags=["questions"])

QuestionSort = Annotated[Literal["new", "views", "updated"], blank_means("new")]


class QuestionSummary(Link):
    tags: list[str] = Field(description="Tag names.")
    views: int
    created: Timestamp


class QuestionDetail(QuestionSummary):
    question_html: str = Field(description="The question's details, rendered (may be empty).")
    answer_html: str = Field(description="The answer, rendered; math as MathML.")
    related: list[Link]
    resources: list[ResourceSummary]


class QuestionPage(Page[QuestionSummary]):
    pass


def question_summary(request, question) -> dict:
    return {
        "id": question.pk,
        "title": question.title,
        "url": request.build_absolute_uri(question.get_absolute_url()),
        "tags": [tag.name for tag in question.tags.all()],
        "views": question.views,
        "created": question.created.isoformat(),
    }


class QuestionListParams(Schema):
    q: text_param(MAX_QUERY_CHARS) = Field("", description="Search words; results come in search order.")
    tag: text_param(100) = Field("", description="A tag's slug or name.")
    sort: QuestionSort = Field("new", description="Order when there is no `q`.")
    page: PageNumber = 1


@router.get(
    "/questions/",
    response={200: QuestionPage, 400: Error, 404: Error, 429: Error},
    url_name="questions",
    summary="List or search questions",
)
def question_list(request, params: Query[QuestionListParams]):
    """Published questions, newest first (or by `sort`), 20 a page. With `q`, the search
    results in search order, `tag` narrowing them; searches are rate limited like the
    search page. A page past the last is a 404."""
    if params.q:
        return question_search(request, params)
    filters = {"tag": params.tag, "sort": params.sort}
    filterset = QuestionFilter(filters, queryset=Question.objects.for_listing())
    # A million published questions take 0.5 s to count: counted once per content change.
    return paginated(
        request, filterset.qs, question_summary, number=params.page, paginator_class=CachedCountPaginator
    )


def question_search(request, params: QuestionListParams):
    retry_after = hit(request, "search")
    if retry_after is not None:
        return too_many_requests(request, retry_after)
    try:
        listed = listed_page({"q": params.q, "tag": params.tag, "page": params.page})
    except (PageNotAnInteger, EmptyPage) as exc:
        raise page_error(exc) from exc
    origin = request.build_absolute_uri("/")[:-1]
    results = [{**item, "url": origin + item["url"]} for item in listed.items]
    return page_data(request, count=listed.count, number=listed.number, pages=listed.pages, results=results)


@router.get(
    "/questions/{id:pk}/",
    response={200: QuestionDetail, 404: Error},
    url_name="question",
    summary="One question with its answer",
)
def question_detail(request, pk: ObjectId):
    """A published question: its rendered details and answer, related questions and the
    resources it recommends. Unknown and unpublished ids are a 404."""
    question = Question.objects.published().prefetch_related("tags").filter(pk=pk).first()
    if question is None:
        raise HttpError(404, "question not found")
    return {
        **question_summary(request, question),
        "question_html": question.body_html,
        "answer_html": question.answer_html,
        "related": [link(request, r) for r in Question.objects.related_to(question)],
        "resources": [resource_summary(request, r) for r in Resource.objects.recommended_by(question)],
    }


class Suggestion(Schema):
    title: str
    url: str = Field(description="A path on this site: the question or tag page.")
    kind: Literal["question", "tag"]


class Suggestions(Schema):
    suggestions: list[Suggestion] = Field(description="At most 8, best first.")


@router.get(
    "/suggest/",
    response={200: Suggestions},
    url_name="suggest",
    summary="Suggestions as the visitor types",
    tags=["suggestions"],
)
def suggest(request, response: HttpResponse, q: str = ""):
    """Published question titles and tags matching `q` by prefix, substring or pinyin
    initials (`hdfs` finds 灰度反色), traditional characters folded. Any text is safe and
    answers 200; not rate limited, since it is called on every keystroke and costs one
    cached lookup."""
    response["Cache-Control"] = "max-age=60"
    return {"suggestions": suggestions(q)}
