"""Paginators whose cost does not grow with the table (SPEC §12), for both apps.

``Paginator`` counts its rows with ``COUNT(*)`` and reaches page *n* with an
``OFFSET``, both of which read every row before the page on PostgreSQL.

* ``KeyRangePaginator`` (the sitemap sections): page *p* holds the rows whose
  primary key lies in ``(k + (p-1)·n, k + p·n]`` from the lowest key *k*, so no
  page holds more than *n*; the number of pages comes from the lowest and the
  highest key (two index probes) and a page is an index range scan.
* ``EstimatedCountPaginator`` (the admin): counts exactly up to
  ``EXACT_UP_TO`` rows (a bounded ``COUNT`` over ``LIMIT``), and beyond that
  takes the planner's estimate on PostgreSQL (``QuerySet.explain``, no raw SQL).
  ``CappedCount`` is the same bound for a count in a column (the admin's tag list).

``RangeSitemap`` is a sitemap section paged by ``KeyRangePaginator``;
``qa.paging.CachedCountPaginator`` serves the public question lists.
"""

import json
import math

from django.contrib.sitemaps import Sitemap
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import IntegerField, Subquery
from django.utils.functional import cached_property

EXACT_UP_TO = 10_000
SITEMAP_LIMIT = 50_000


class KeyRangePaginator(Paginator):
    @cached_property
    def _first_key(self):
        # Ranges start at the lowest key, so rows deleted long ago leave no empty pages in front.
        return self.object_list.order_by("pk").values_list("pk", flat=True).first() or 1

    @cached_property
    def num_pages(self):
        top = self.object_list.order_by("-pk").values_list("pk", flat=True).first()
        if top is None:
            return 1
        return max(1, math.ceil((top - self._first_key + 1) / self.per_page))

    @cached_property
    def count(self):
        """An upper bound: pages are key ranges, some of them with gaps."""
        return self.num_pages * self.per_page

    def page(self, number):
        number = self.validate_number(number)
        low = self._first_key - 1 + (number - 1) * self.per_page
        rows = self.object_list.filter(pk__gt=low, pk__lte=low + self.per_page)
        return self._get_page(rows, number, self)


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self):
        # Only the keys: a filter across a many-to-many makes the admin's query DISTINCT,
        # which would otherwise compare whole rows, texts and all.
        exact = self.object_list.order_by().values("pk")[: EXACT_UP_TO + 1].count()
        if exact <= EXACT_UP_TO:
            return exact
        if connection.vendor != "postgresql":
            return super().count
        plan = self.object_list.explain(format="json")
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return max(int(plan[0]["Plan"]["Plan Rows"]), exact)


class CappedCount(Subquery):
    """The number of rows of a sliced (correlated) queryset: ``COUNT(*)`` over at most
    its slice, so a count of the rows of one popular value reads only that many index
    entries. The ORM's ``Count`` cannot count a slice."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS capped)"
    output_field = IntegerField()


class RangeSitemap(Sitemap):
    """A sitemap section paged by primary-key ranges, at most ``limit`` URLs a page."""

    limit = SITEMAP_LIMIT

    @property
    def paginator(self):
        return KeyRangePaginator(self.items(), self.limit)


class UpdatedSitemap(RangeSitemap):
    """``lastmod`` is the row's ``updated``."""

    def lastmod(self, item):
        return item.updated

    def get_latest_lastmod(self):
        # The newest change, from an index on updated, not a max over every item.
        return self.items().order_by("-updated").values_list("updated", flat=True).first()
