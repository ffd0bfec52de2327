"""What every JSON endpoint of the site shares: the error body, the page envelope, typed parameters.

Errors are ``{"error": "..."}`` (SPEC §8, §9) whoever answers them: an API
operation, the rate limiter, the 404/500 handlers or an admin endpoint. Lists
are ``{"count", "next", "previous", "results"}`` with absolute page links.
The schemas here are the API's (``config.api``) and appear in its OpenAPI document.
"""

from typing import Annotated, Generic, TypeVar

from django.conf import settings
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import HttpRequest, JsonResponse
from ninja import Schema
from ninja.errors import HttpError
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

API_PREFIX = "/api/"

Item = TypeVar("Item")


def wants_json(request: HttpRequest) -> bool:
    """Whether an error for this request is answered in JSON rather than as a page."""
    return request.path.startswith(API_PREFIX)


def json_response(data: dict, *, status: int = 200) -> JsonResponse:
    # Chinese text stays readable in the body instead of \uXXXX escapes.
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def json_error(message: str, status: int, **extra) -> JsonResponse:
    """``{"error": message, **extra}`` with the given status."""
    return json_response({"error": str(message), **extra}, status=status)


class Error(Schema):
    error: str = Field(description="What was wrong, in words a person can act on.")


class Page(Schema, Generic[Item]):
    count: int = Field(description="How many items all pages hold together.")
    next: str | None = Field(description="Absolute URL of the next page, null on the last.")
    previous: str | None = Field(description="Absolute URL of the previous page, null on the first.")
    results: list[Item]


class Link(Schema):
    id: int
    title: str
    url: str = Field(description="Absolute URL of its page.")


def link(request: HttpRequest, obj) -> dict:
    """``Link`` data for a routed model instance with a ``title``."""
    return {"id": obj.pk, "title": obj.title, "url": request.build_absolute_uri(obj.get_absolute_url())}


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def text_param(max_length: int):
    """A query string parameter: stripped text of at most ``max_length`` characters, no NUL."""
    return Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=max_length), AfterValidator(_no_nul)
    ]


def blank_means(default):
    """A parameter given empty (``?page=``, as a form sends it) takes its default."""
    return BeforeValidator(lambda value: default if value == "" else value)


# Page numbers start at 1; one past the last page, or below 1, is "page out of range" (404).
PageNumber = Annotated[
    int, blank_means(1), Field(json_schema_extra={"minimum": 1}, description="1-based page number.")
]

# What the <id:...> converter lets through (config.converters): up to 18 digits.
ObjectId = Annotated[
    int, Field(json_schema_extra={"minimum": 0, "maximum": 10**18 - 1}, description="The object's id.")
]

# Kept as the ISO 8601 text the models give (microseconds and offset intact).
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


def paginated(request: HttpRequest, queryset, serialize, *, number: int, paginator_class=Paginator) -> dict:
    """Page ``number`` of ``queryset``, each item passed through ``serialize(request, item)``;
    ``paginator_class`` may count differently (a cached count for big tables)."""
    paginator = paginator_class(queryset, settings.ZHIKU_PAGE_SIZE)
    try:
        page = paginator.page(number)
    except (PageNotAnInteger, EmptyPage) as exc:
        raise page_error(exc) from exc
    results = [serialize(request, item) for item in page.object_list]
    return page_data(
        request, count=paginator.count, number=page.number, pages=paginator.num_pages, results=results
    )


def page_error(exc: PageNotAnInteger | EmptyPage) -> HttpError:
    """The error to raise for a ``page`` the paginator refused."""
    if isinstance(exc, PageNotAnInteger):
        return HttpError(400, "page must be a positive whole number")
    return HttpError(404, "page out of range")


def page_data(request: HttpRequest, *, count: int, number: int, pages: int, results: list) -> dict:
    """The page envelope around ``results``, page ``number`` of ``pages``."""

    def page_url(number):
        params = request.GET.copy()
        params["page"] = number
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    return {
        "count": count,
        "next": page_url(number + 1) if number < pages else None,
        "previous": page_url(number - 1) if number > 1 else None,
        "results": results,
    }
