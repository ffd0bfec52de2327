"""The sitemap index and its sections (SPEC §12): at most ``limit`` URLs per section page.

``/sitemap.xml`` is the index, ``/sitemap-<section>.xml?p=N`` a section page.
Pages are primary-key ranges (``config.paging.KeyRangePaginator``): neither the
index nor a page counts or offsets through the whole table. Both are cached
whole under the content version (``cached``), so a crawler walking every
section costs the database once per content change.
"""

from functools import wraps

from django.core.cache import cache
from django.http import HttpResponse

from config.paging import RangeSitemap, UpdatedSitemap
from qa import freshness
from qa.models import Question, Tag

CACHE_SECONDS = 24 * 3600


class QuestionSitemap(UpdatedSitemap):
    changefreq = "weekly"
    priority = 0.8

    def items(self):
        return Question.objects.published().order_by("pk").only("pk", "slug", "updated")


class TagSitemap(RangeSitemap):
    changefreq = "daily"
    priority = 0.5

    def items(self):
        return Tag.objects.with_published_questions().order_by("pk")


def cached(view):
    """Serve a sitemap view from the cache, keyed on the content version, host, section and page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        page = request.GET.get("p", "1")[:12]
        key = ":".join(
            ["zhiku:sitemap", str(freshness.current()), request.scheme, request.get_host(),
             kwargs.get("section", ""), page]
        )  # fmt: skip
        hit = cache.get(key)
        if hit is not None:
            content, headers = hit
            return HttpResponse(content, headers=headers)
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            response.render()
            headers = {name: value for name, value in response.items() if name != "Content-Length"}
            cache.set(key, (response.content, headers), CACHE_SECONDS)
        return response

    return wrapper
