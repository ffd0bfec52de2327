"""Read-only JSON API for questions (SPEC §9). API reads never count views."""

from django.conf import settings
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.http import require_safe

from config import converters  # noqa: F401  (registers <id:...>)
from qa.filters import QuestionFilter
from qa.models import Question
from qa.ratelimit import ratelimit
from qa.search.listing import listed_page
from resources.models import Resource

app_name = "qa-api"


def json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, json_dumps_params={"ensure_ascii": False})


def paginated(request, queryset, serialize) -> JsonResponse:
    """``{"count", "next", "previous", "results"}`` for one page of ``queryset``."""
    paginator = Paginator(queryset, settings.ZHIKU_PAGE_SIZE)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except PageNotAnInteger:
        return json_error("page must be a positive whole number", 400)
    except EmptyPage:
        return json_error("page out of range", 404)
    results = [serialize(request, item) for item in page.object_list]
    return page_response(
        request, count=paginator.count, number=page.number, pages=paginator.num_pages, results=results
    )


def page_response(request, *, count: int, number: int, pages: int, results: list) -> JsonResponse:
    def page_url(number):
        params = request.GET.copy()
        params["page"] = number
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    return JsonResponse(
        {
            "count": count,
            "next": page_url(number + 1) if number < pages else None,
            "previous": page_url(number - 1) if number > 1 else None,
            "results": results,
        },
        json_dumps_params={"ensure_ascii": False},
    )


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
    except PageNotAnInteger:
        return json_error("page must be a positive whole number", 400)
    except EmptyPage:
        return json_error("page out of range", 404)
    origin = request.build_absolute_uri("/")[:-1]
    results = [{**item, "url": origin + item["url"]} for item in listed.items]
    return page_response(
        request, count=listed.count, number=listed.number, pages=listed.pages, results=results
    )


@require_safe
def question_detail(request, pk):
    # Imported here: resources.api builds on this module's pagination helpers.
    from resources.api import resource_summary

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
        resources=[resource_summary(request, r) for r in Resource.objects.recommended_by(question)],
    )
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


urlpatterns = [
    path("questions/", question_list, name="questions"),
    path("questions/<id:pk>/", question_detail, name="question"),
]
