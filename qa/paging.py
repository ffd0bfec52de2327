"""The question lists' paginator: counted once per content change, not once per request,
and no deeper than ``MAX_PAGES``."""

import hashlib

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from qa import freshness

COUNT_CACHE_SECONDS = 24 * 3600
# Page n is reached by an OFFSET, which reads the n·size rows before it: with a million
# questions the last page cost over a second. Deeper rows are still reached by narrowing
# (a tag, a search, another sort), and every question is in the sitemap.
MAX_PAGES = 500


class CachedCountPaginator(Paginator):
    """The count is cached under the content version (``qa.freshness``) and the query;
    ``count`` stays the number of rows, the pages stop at ``MAX_PAGES``."""

    @cached_property
    def num_pages(self):
        return min(super().num_pages, MAX_PAGES)

    @cached_property
    def count(self):
        try:
            sql, params = self.object_list.query.sql_with_params()
        except EmptyResultSet:
            return 0
        digest = hashlib.sha256(repr((sql, params)).encode()).hexdigest()[:32]
        key = f"zhiku:count:{freshness.current()}:{digest}"
        count = cache.get(key)
        if count is None:
            count = super().count
            cache.set(key, count, COUNT_CACHE_SECONDS)
        return count
