"""What every JSON endpoint of the site shares: the error body, the page envelope.

Errors are ``{"error": "..."}`` (SPEC §8, §9) whoever answers them: an API
view, the rate limiter, the 404/500 handlers or an admin endpoint. Lists are
``{"count", "next", "previous", "results"}`` with absolute page links.
"""

from django.conf import settings
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import HttpRequest, JsonResponse

API_PREFIX = "/api/"


def wants_json(request: HttpRequest) -> bool:
    """Whether an error for this request is answered in JSON rather than as a page."""
    return request.path.startswith(API_PREFIX)


def json_response(data: dict, *, status: int = 200) -> JsonResponse:
    # Chinese text stays readable in the body instead of \uXXXX escapes.
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def json_error(message: str, status: int, **extra) -> JsonResponse:
    """``{"error": message, **extra}`` with the given status."""
    return json_response({"error": str(message), **extra}, status=status)


def paginated(request: HttpRequest, queryset, serialize) -> JsonResponse:
    """One page of ``queryset`` (``?page=``), each item passed through ``serialize(request, item)``."""
    paginator = Paginator(queryset, settings.ZHIKU_PAGE_SIZE)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except (PageNotAnInteger, EmptyPage) as exc:
        return page_error(exc)
    results = [serialize(request, item) for item in page.object_list]
    return page_response(
        request, count=paginator.count, number=page.number, pages=paginator.num_pages, results=results
    )


def page_error(exc: PageNotAnInteger | EmptyPage) -> JsonResponse:
    """The answer to a ``page`` the paginator refused."""
    if isinstance(exc, PageNotAnInteger):
        return json_error("page must be a positive whole number", 400)
    return json_error("page out of range", 404)


def page_response(request: HttpRequest, *, count: int, number: int, pages: int, results: list):
    """The page envelope around ``results``, page ``number`` of ``pages``."""

    def page_url(number):
        params = request.GET.copy()
        params["page"] = number
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    return json_response(
        {
            "count": count,
            "next": page_url(number + 1) if number < pages else None,
            "previous": page_url(number - 1) if number > 1 else None,
            "results": results,
        }
    )
