"""Pages of search results as the API lists them, cached as plain data."""

import functools
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

from qa import freshness
from qa.models import Question
from qa.search import search_request
from qa.search.results import CACHE_SECONDS, cache_key


@dataclass
class ListedPage:
    """One page of search results as the API lists them: plain data, so it can be cached.

    Each item has ``id``, ``title``, ``url`` (a path: the host is the request's),
    ``tags``, ``views`` and ``created`` (ISO 8601)."""

    version: int | None
    count: int
    number: int
    pages: int
    items: list[dict]

    def with_views(self, views: dict[int, int]) -> "ListedPage":
        """A copy with current view counts, leaving out questions absent from ``views``."""
        items = [{**item, "views": views[item["id"]]} for item in self.items if item["id"] in views]
        return ListedPage(self.version, self.count, self.number, self.pages, items)


def listed_page(params) -> ListedPage:
    """The page of results that ``params`` (``q``, ``tag``, ``page``) asks for, as the API lists it.

    Raises ``PageNotAnInteger`` or ``EmptyPage`` as ``Paginator.page`` does.
    Pages are cached under the parameters as given and stamped with the content
    version they were listed at. Serving one again costs one query, which reads
    the current version with the view counts and publication of the page's
    questions; any other version means searching again."""
    number = params.get("page") or 1
    key = cache_key("listed", 0, params.get("q", "").strip(), params.get("tag", "").strip(), str(number))
    cached = cache.get(key)
    if cached is not None:
        version, views = _version_and_views([item["id"] for item in cached.items])
        if version == cached.version:
            return cached.with_views(views)
    results = search_request(params)
    paginator = Paginator(results.ids, settings.ZHIKU_PAGE_SIZE)
    page = paginator.page(number)
    listed = ListedPage(
        version=results.version,
        count=paginator.count,
        number=page.number,
        pages=paginator.num_pages,
        items=_listed_items(page.object_list),
    )
    if listed.version is not None:
        cache.set(key, listed, CACHE_SECONDS)
    return listed


def _version_and_views(ids: list[int]) -> tuple[int, dict[int, int]]:
    """The content version, and the views of those of ``ids`` still published: one query."""
    if not ids:
        return freshness.current(), {}
    # Visibility is read here rather than filtered in SQL, where SQLite would walk
    # its (is_published, views) index over every published question instead of
    # looking up twenty ids.
    rows = list(_views_and_version().filter(pk__in=ids))
    if not rows:
        return freshness.current(), {}
    return rows[0][3] or 0, {pk: views for pk, views, published, _version in rows if published}


@functools.cache
def _views_and_version():
    # Built once per process (never evaluated itself): composing the
    # annotated query anew took most of the time of a repeated page.
    return (
        Question.objects.with_visibility()
        .annotate(version=freshness.subquery())
        .values_list("pk", "views", "visible", "version")
    )


def _listed_items(ids: list[int]) -> list[dict]:
    """The published questions of ``ids`` as ``ListedPage`` items, in that order: two queries.

    Plain rows rather than model instances with prefetched tags, and one
    reversed URL rather than one per question: this runs on every first search."""
    if not ids:
        return []
    rows = (
        Question.objects.with_visibility()
        .filter(pk__in=ids)
        .values_list("pk", "title", "slug", "views", "created", "visible")
    )
    by_id = {row[0]: row for row in rows if row[-1]}
    tags = defaultdict(list)
    tagged = Question.tags.through.objects.filter(question_id__in=ids).order_by("tag__name")
    for pk, name in tagged.values_list("question_id", "tag__name"):
        tags[pk].append(name)
    # Every question URL is this one with another id and slug, quoted the way reverse() does.
    sample = reverse("qa:detail", kwargs={"pk": 1, "slug": "q"})
    prefix = sample.removesuffix("1/q/")
    items = []
    for pk in ids:
        if pk not in by_id:
            continue
        _pk, title, slug, views, created, _published = by_id[pk]
        path = prefix + quote(f"{pk}/{slug or 'q'}/", safe=RFC3986_SUBDELIMS + "/~:@")
        items.append(
            {
                "id": pk,
                "title": title,
                "url": path,
                "tags": tags[pk],
                "views": views,
                "created": created.isoformat(),
            }
        )
    return items
