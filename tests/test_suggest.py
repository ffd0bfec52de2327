"""Suggestions as the visitor types: GET /api/suggest/?q= (SPEC §6)."""

import pytest

from qa.models import Question
from tests.conftest import make_question
from tests.test_search import HOSTILE


@pytest.fixture
def titles(db):
    return {
        "invert": make_question(
            title="Python 灰度反色怎么做", answer="ImageOps.invert。", tags=["图像处理"], views=5
        ),
        "gray": make_question(title="灰度图像的直方图", answer="直方图均衡。", views=9),
        "pg": make_question(title="PostgreSQL 的 pg_trgm", answer="三元组。", tags=["postgresql"]),
        "hidden": make_question(title="灰度草稿", answer="未发布。", is_published=False),
    }


def suggest(client, q):
    response = client.get("/api/suggest/", {"q": q})
    assert response.status_code == 200
    return response.json()["suggestions"]


def test_prefix_matches_come_before_substring_matches(client, titles):
    found = suggest(client, "灰度")
    assert [item["title"] for item in found] == ["灰度图像的直方图", "Python 灰度反色怎么做"]
    assert found[0] == {
        "title": "灰度图像的直方图",
        "url": titles["gray"].get_absolute_url(),
        "kind": "question",
    }


def test_traditional_characters_and_case_are_folded(client, titles):
    assert [item["title"] for item in suggest(client, "灰度圖像")] == ["灰度图像的直方图"]
    assert [item["title"] for item in suggest(client, "POSTGRESQL")][:1] == ["PostgreSQL 的 pg_trgm"]


def test_pinyin_initials_find_chinese_titles(client, titles):
    assert "Python 灰度反色怎么做" in [item["title"] for item in suggest(client, "hdfs")]


def test_tags_are_suggested_after_questions(client, titles):
    found = suggest(client, "图像")
    assert found[-1]["kind"] == "tag" and found[-1]["title"] == "图像处理"
    assert found[-1]["url"] == titles["invert"].tags.get().get_absolute_url()


def test_unpublished_questions_are_never_suggested(client, titles):
    assert "灰度草稿" not in [item["title"] for item in suggest(client, "灰度")]


def test_at_most_eight(client, db):
    for n in range(12):
        make_question(title=f"缓存策略 {n}", answer="…")
    assert len(suggest(client, "缓存")) == 8


def test_new_content_is_suggested_at_once(client, titles):
    assert suggest(client, "量子") == []
    make_question(title="量子退火入门", answer="…")
    assert [item["title"] for item in suggest(client, "量子")] == ["量子退火入门"]
    Question.objects.filter(title="量子退火入门").get().delete()
    assert suggest(client, "量子") == []


def test_repeated_suggestion_costs_one_query(client, titles, django_assert_num_queries):
    suggest(client, "灰度")
    with django_assert_num_queries(1):  # the content version
        suggest(client, "灰度")


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_input_is_harmless(client, titles, query):
    assert len(suggest(client, query)) <= 8


def test_empty_query_suggests_nothing(client, titles):
    assert suggest(client, "") == []
    assert suggest(client, "   ") == []


@pytest.mark.django_db
def test_suggestions_are_part_of_the_documented_api(client):
    schema = client.get("/api/openapi.json").json()
    operation = schema["paths"]["/api/suggest/"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["q"]
    response = client.get("/api/suggest/", {"q": "\x00" + "反" * 5000})
    assert response.status_code == 200 and response["Cache-Control"] == "max-age=60"
    assert response.json() == {"suggestions": []}
