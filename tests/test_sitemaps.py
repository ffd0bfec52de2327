"""The sitemap index and its sections, and a bulk import seen everywhere (SPEC §10, §12)."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from qa.models import Question, SearchDocument, Tag
from qa.sitemaps import QuestionSitemap, TagSitemap
from resources.sitemaps import ResourceSitemap
from tests.conftest import counts_a_table, make_question, sitemap_locations

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_sections(monkeypatch):
    for sitemap in (QuestionSitemap, TagSitemap, ResourceSitemap):
        monkeypatch.setattr(sitemap, "limit", 3)


def test_sections_hold_at_most_limit_urls_and_list_every_published_question_once(client, small_sections):
    shown = [make_question(title=f"公开问题 {n}", tags=[f"标签{n % 4}"]) for n in range(10)]
    draft = make_question(title="草稿问题", is_published=False)
    index = client.get("/sitemap.xml").content.decode()
    assert "/sitemap-questions.xml?p=4" in index and "/sitemap-questions.xml?p=5" not in index
    assert "<lastmod>" in index

    for page in range(1, 5):
        body = client.get("/sitemap-questions.xml", {"p": page}).content.decode()
        assert body.count("<url>") <= 3
    locations = sitemap_locations(client)
    questions = [loc for loc in locations if "/questions/" in loc]
    assert sorted(questions) == sorted("http://testserver" + q.get_absolute_url() for q in shown)
    assert "http://testserver" + draft.get_absolute_url() not in locations
    tags = Tag.objects.filter(questions__in=shown).distinct()
    assert sorted(loc for loc in locations if "/tags/" in loc) == sorted(
        "http://testserver" + tag.get_absolute_url() for tag in tags
    )
    assert len(tags) == 4


def test_a_page_past_the_end_is_404(client):
    make_question()
    assert client.get("/sitemap-questions.xml", {"p": 99}).status_code == 404
    assert client.get("/sitemap-nothing.xml").status_code == 404


def test_neither_the_index_nor_a_section_counts_the_table(client, small_sections):
    for n in range(7):
        make_question(title=f"问题 {n}")
    for path in ["/sitemap.xml", "/sitemap-questions.xml?p=2"]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
        assert not counts_a_table(sql) and "OFFSET" not in sql, path


def test_sitemap_is_cached_under_the_content_version(client, small_sections):
    question = make_question(title="旧标题")
    client.get("/sitemap.xml")
    client.get("/sitemap-questions.xml")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/sitemap-questions.xml").status_code == 200
    assert len(queries) == 1  # the content version
    question.title, question.slug = "新标题", ""
    question.save()
    assert question.get_absolute_url() in client.get("/sitemap-questions.xml").content.decode()


def test_an_import_is_seen_by_search_sitemap_and_api(client, small_sections, tmp_path):
    """Every question of an import is searchable, in the sitemap and in the API afterwards."""
    items = [
        {
            "key": f"bulk-{n}",
            "title": f"批量导入的问题 {n}",
            "answer": f"答案里有独特的词 zkword{n:03d}。\n\n```python\nprint({n})\n```\n",
            "tags": ["批量", f"组{n % 3}"],
            "related": [f"bulk-{(n + 1) % 30}"],
        }
        for n in range(30)
    ]
    path = Path(tmp_path / "content.json")
    path.write_text(json.dumps({"questions": items}, ensure_ascii=False), encoding="utf-8")
    call_command("import_content", str(path))

    assert Question.objects.count() == SearchDocument.objects.count() == 30
    for n in (0, 13, 29):
        found = client.get("/api/questions/", {"q": f"zkword{n:03d}"}).json()
        assert [item["title"] for item in found["results"]] == [f"批量导入的问题 {n}"]
    assert client.get("/api/questions/", {"q": "批量导入"}).json()["count"] == 30
    assert client.get("/api/questions/").json()["count"] == 30
    locations = sitemap_locations(client)
    assert len([loc for loc in locations if "/questions/" in loc]) == 30
    detail = client.get(f"/api/questions/{Question.objects.get(key='bulk-4').pk}/").json()
    assert [r["title"] for r in detail["related"]][:1] == ["批量导入的问题 5"]
