"""The question lists' paginator: counted once per content change, not once per request."""

import hashlib

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from qa import freshness

COUNT_CACHE_SECONDS = 24 * 3600


class CachedCountPaginator(Paginator):
    """The count is cached under the content version (``qa.freshness``) and the query."""

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
