"""Every hot path has an index path on PostgreSQL: nothing it runs must read a whole big table.

The SQL of each page and API response is captured with ``CaptureQueriesContext``
and explained with ``EXPLAIN (FORMAT JSON)`` under ``SET enable_seqscan = off``.
At a test's size (3,000 questions) the planner rightly prefers sequential scans
of small tables, so asserting on its free choice would test the table size, not
the schema; with sequential scans priced out, a ``Seq Scan`` that remains on one
of the big tables means no index can answer that statement, which is what grows
with the table at a million rows. bench/scale.py checks the planner's free choice
at full size (docs/performance.md).
"""

import json

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from qa.models import Question, Tag

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

BIG_TABLES = {
    "qa_question", "qa_question_tags", "qa_relatedquestion", "qa_searchdocument", "qa_searchterm",
    "resources_recommendation",
}  # fmt: skip


def _seq_scans(node: dict):
    if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in BIG_TABLES:
        yield node["Relation Name"]
    for child in node.get("Plans", []):
        yield from _seq_scans(child)


def scanned_tables(client, path: str) -> set[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200, path
    found = set()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries.captured_queries:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (FORMAT JSON) " + query["sql"])
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            found.update(_seq_scans(plan[0]["Plan"]))
    return found


@pytest.fixture
def big_site(settings):
    from bench.content import generate

    generate(questions=3000, tags=200, resources=50, zipf=1.0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def test_hot_paths_have_an_index_path(big_site):
    question = Question.objects.order_by("pk")[1500]
    tag = Tag.objects.order_by("pk").first()
    client = Client()
    paths = [
        question.get_absolute_url(),  # first render
        question.get_absolute_url(),  # cached
        "/questions/",
        "/questions/?sort=views&page=3",
        "/questions/?sort=updated",
        tag.get_absolute_url(),
        "/search/?q=Python+灰度",
        "/sitemap.xml",
        "/sitemap-questions.xml",
        "/sitemap-tags.xml",
        "/api/questions/",
        f"/api/questions/{question.pk}/",
        "/",
    ]
    problems = {}
    cache.clear()
    for path in paths:
        if found := scanned_tables(client, path):
            problems[path] = found
    admin = Client()
    admin.force_login(User.objects.create_superuser("plans", "p@example.com", "x"))
    admin_paths = [
        "/admin/qa/question/",
        "/admin/qa/question/?q=灰度",
        f"/admin/qa/question/?tags__id__exact={tag.pk}",
    ]
    for path in admin_paths:
        if found := scanned_tables(admin, path):
            problems[path] = found
    assert problems == {}
