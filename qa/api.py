"""Read-only JSON API for questions (SPEC §9). API reads never count views."""

from django.core.paginator import EmptyPage, PageNotAnInteger
from django.urls import path
from django.views.decorators.http import require_safe

from config import converters  # noqa: F401  (registers <id:...>)
from config.jsonapi import json_error, json_response, page_error, page_response, paginated
from config.ratelimit import ratelimit
from qa.filters import QuestionFilter
from qa.models import Question
from qa.search.listing import listed_page
from resources.models import Resource

app_name = "qa-api"


def question_summary(request, question):
    return {
        "id": question.pk,
        "title": question.title,
        "url": request.build_absolute_uri(question.get_absolute_url()),
        "tags": [tag.name for tag in question.tags.all()],
        "views": question.views,
        "created": question.created.isoformat(),
    }


@require_safe
def question_list(request):
    if request.GET.get("q", "").strip():
        return question_search(request)
    filterset = QuestionFilter(request.GET, queryset=Question.objects.for_listing())
    return paginated(request, filterset.qs, question_summary)


@ratelimit("search")
def question_search(request):
    """``q`` given: results in search order (SPEC §9), ``tag`` narrows them."""
    try:
        listed = listed_page(request.GET)
    except (PageNotAnInteger, EmptyPage) as exc:
        return page_error(exc)
    origin = request.build_absolute_uri("/")[:-1]
    results = [{**item, "url": origin + item["url"]} for item in listed.items]
    return page_response(
        request, count=listed.count, number=listed.number, pages=listed.pages, results=results
    )


@require_safe
def question_detail(request, pk):
    question = Question.objects.published().prefetch_related("tags").filter(pk=pk).first()
    if question is None:
        return json_error("question not found", 404)
    data = question_summary(request, question)
    data.update(
        question_html=question.body_html,
        answer_html=question.answer_html,
        related=[
            {"id": r.pk, "title": r.title, "url": request.build_absolute_uri(r.get_absolute_url())}
            for r in Question.objects.related_to(question)
        ],
        resources=[
            {
                "id": r.pk,
                "title": r.title,
                "type": r.file_type,
                "size": r.size,
                "downloads": r.downloads,
                "url": request.build_absolute_uri(r.get_absolute_url()),
                "download_url": request.build_absolute_uri(r.get_download_url()),
            }
            for r in Resource.objects.recommended_by(question)
        ],
    )
    return json_response(data)


urlpatterns = [
    path("questions/", question_list, name="questions"),
    path("questions/<id:pk>/", question_detail, name="question"),
]
