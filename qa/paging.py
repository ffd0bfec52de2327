"""Paginators whose cost does not grow with the table (SPEC §12).

``Paginator`` counts its rows with ``COUNT(*)`` and reaches page *n* with an
``OFFSET``, both of which read every row before the page on PostgreSQL.

* ``KeyRangePaginator`` (the sitemap sections): page *p* holds the rows whose
  primary key lies in ``((p-1)·n, p·n]``, so no page holds more than *n*; the
  number of pages comes from the highest key (one index probe) and a page is
  an index range scan.
* ``CachedCountPaginator`` (the question lists): the count is cached under the
  content version (``qa.freshness``) and the query, so it is counted once per
  content change rather than once per request.
* ``EstimatedCountPaginator`` (the admin): counts exactly up to
  ``EXACT_UP_TO`` rows (a bounded ``COUNT`` over ``LIMIT``), and beyond that
  takes the planner's estimate on PostgreSQL (``QuerySet.explain``).
"""

import hashlib
import json
import math

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

from qa import freshness

COUNT_CACHE_SECONDS = 24 * 3600
EXACT_UP_TO = 10_000


class KeyRangePaginator(Paginator):
    @cached_property
    def num_pages(self):
        top = self.object_list.order_by("-pk").values_list("pk", flat=True).first() or 0
        return max(1, math.ceil(top / self.per_page))

    @cached_property
    def count(self):
        """An upper bound: pages are key ranges, some of them with gaps."""
        return self.num_pages * self.per_page

    def page(self, number):
        number = self.validate_number(number)
        low = (number - 1) * self.per_page
        rows = self.object_list.filter(pk__gt=low, pk__lte=low + self.per_page)
        return self._get_page(rows, number, self)


class CachedCountPaginator(Paginator):
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


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self):
        exact = self.object_list[: EXACT_UP_TO + 1].count()
        if exact <= EXACT_UP_TO or connection.vendor != "postgresql":
            return exact if exact <= EXACT_UP_TO else super().count
        plan = self.object_list.explain(format="json")
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return max(int(plan[0]["Plan"]["Plan Rows"]), exact)
