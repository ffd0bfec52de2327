"""The read-only question API (SPEC §9)."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from qa.models import Question
from tests.conftest import counts_a_table, make_question

pytestmark = pytest.mark.django_db

SUMMARY_KEYS = {"id", "title", "url", "tags", "views", "created"}


def get_json(client, url, params=None, status=200):
    response = client.get(url, params or {})
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_list_has_the_documented_shape(client):
    question = make_question(title="灰度反色", tags=["python", "图像处理"], views=7)
    data = get_json(client, "/api/questions/")
    assert set(data) == {"count", "next", "previous", "results"}
    assert data["count"] == 1 and data["next"] is None and data["previous"] is None
    (item,) = data["results"]
    assert set(item) == SUMMARY_KEYS
    assert item["id"] == question.pk
    assert item["title"] == "灰度反色"
    assert item["url"] == "http://testserver" + question.get_absolute_url()
    assert sorted(item["tags"]) == ["python", "图像处理"]
    assert item["views"] == 7
    assert datetime.fromisoformat(item["created"]) == question.created


def test_chinese_is_sent_as_utf8_not_escaped(client):
    make_question(title="灰度反色")
    assert "灰度反色" in client.get("/api/questions/").content.decode()


def test_list_leaves_out_unpublished_questions(client):
    make_question(title="草稿", is_published=False)
    assert get_json(client, "/api/questions/")["count"] == 0


def test_list_filters_by_tag(client):
    make_question(title="J", tags=["java"])
    make_question(title="P", tags=["python"])
    data = get_json(client, "/api/questions/", {"tag": "java"})
    assert [item["title"] for item in data["results"]] == ["J"]
    assert get_json(client, "/api/questions/", {"tag": "nothing"})["count"] == 0


def test_list_sorts(client):
    now = timezone.now()
    make_question(title="旧而热", views=100, created=now - timedelta(days=2))
    make_question(title="新而冷", views=1, created=now)

    def titles(sort):
        return [item["title"] for item in get_json(client, "/api/questions/", {"sort": sort})["results"]]

    assert titles("new") == ["新而冷", "旧而热"]
    assert titles("views") == ["旧而热", "新而冷"]
    assert titles("updated") == ["新而冷", "旧而热"]


def test_an_unknown_sort_is_a_json_400_naming_the_choices(client):
    """The list page sorts a stale link the default way; a script gets told instead."""
    error = get_json(client, "/api/questions/", {"sort": "bogus"}, status=400)["error"]
    assert "sort" in error and "views" in error


def test_list_paginates_with_absolute_next_and_previous_links(client):
    for n in range(25):
        make_question(tags=["python"], created=timezone.now() - timedelta(minutes=n))
    first = get_json(client, "/api/questions/", {"tag": "python"})
    assert first["count"] == 25 and len(first["results"]) == 20
    assert first["next"] == "http://testserver/api/questions/?tag=python&page=2"
    second = get_json(client, "/api/questions/", {"tag": "python", "page": "2"})
    assert len(second["results"]) == 5
    assert second["next"] is None
    assert second["previous"] == "http://testserver/api/questions/?tag=python&page=1"
    ids = [item["id"] for item in first["results"] + second["results"]]
    assert len(set(ids)) == 25


@pytest.mark.parametrize("page", ["abc", "1.5", "二"])
def test_non_numeric_page_is_a_json_400(client, page):
    make_question()
    data = get_json(client, "/api/questions/", {"page": page}, status=400)
    assert "page" in data["error"]


@pytest.mark.parametrize("page", ["0", "-1", "99"])
def test_page_out_of_range_is_a_json_404(client, page):
    make_question()
    assert "error" in get_json(client, "/api/questions/", {"page": page}, status=404)


def test_detail_has_the_documented_shape(client):
    neighbour = make_question(title="什么是灰度", tags=["图像处理"])
    question = make_question(
        title="灰度反色",
        body="问题**说明**",
        answer="回答 `code`",
        tags=["图像处理"],
        related=[neighbour],
        views=3,
    )
    data = get_json(client, f"/api/questions/{question.pk}/")
    assert set(data) == SUMMARY_KEYS | {"question_html", "answer_html", "related", "resources"}
    assert data["id"] == question.pk
    assert data["question_html"] == "<p>问题<strong>说明</strong></p>"
    assert data["answer_html"] == "<p>回答 <code>code</code></p>"
    assert data["related"] == [
        {
            "id": neighbour.pk,
            "title": "什么是灰度",
            "url": "http://testserver" + neighbour.get_absolute_url(),
        }
    ]
    assert data["resources"] == []
    assert data["views"] == 3


def test_detail_related_skips_unpublished_and_self(client):
    hidden = make_question(tags=["x"], is_published=False)
    shown = make_question(tags=["x"])
    question = make_question(tags=["x"], related=[hidden])
    related_ids = [item["id"] for item in get_json(client, f"/api/questions/{question.pk}/")["related"]]
    assert related_ids == [shown.pk]


def test_detail_of_unknown_question_is_a_json_404(client):
    assert get_json(client, "/api/questions/424242/", status=404) == {"error": "question not found"}


def test_detail_of_unpublished_question_is_a_json_404(client):
    question = make_question(is_published=False)
    assert "error" in get_json(client, f"/api/questions/{question.pk}/", status=404)


def test_unknown_api_path_is_a_json_404(client):
    assert "error" in get_json(client, "/api/nothing-here/", status=404)


def test_api_is_read_only(client):
    question = make_question()
    assert client.post("/api/questions/").status_code == 405
    assert client.delete(f"/api/questions/{question.pk}/").status_code == 405


def test_api_reads_never_count_views(client):
    question = make_question(views=5)
    for _ in range(3):
        get_json(client, f"/api/questions/{question.pk}/")
        get_json(client, "/api/questions/")
    assert Question.objects.get(pk=question.pk).views == 5


def test_list_query_count_does_not_grow_with_results(client, django_assert_num_queries):
    for _ in range(15):
        make_question(tags=["a", "b"])
    # the content version, the count, the page, and the tags of every question on the page in one query
    with django_assert_num_queries(4):
        get_json(client, "/api/questions/")
    # The count is cached until the content changes: a million questions take 0.5 s to count.
    with django_assert_num_queries(3) as queries:
        assert get_json(client, "/api/questions/")["count"] == 15
    assert not any(counts_a_table(query["sql"]) for query in queries.captured_queries)
    make_question()
    assert get_json(client, "/api/questions/")["count"] == 16


def test_detail_query_count_does_not_grow_with_related_questions(client, django_assert_max_num_queries):
    others = [make_question(tags=["a"]) for _ in range(5)]
    question = make_question(tags=["a"], related=others)
    # question, tags, curated related, recommended resources: nothing per related item
    with django_assert_max_num_queries(5):
        assert len(get_json(client, f"/api/questions/{question.pk}/")["related"]) == 5


def test_a_tag_the_form_refuses_matches_nothing_on_the_page_and_is_a_400_in_the_api(client):
    make_question(title="有标签的问题", tags=["python"])
    assert "NUL" in get_json(client, "/api/questions/?tag=%00", status=400)["error"]
    assert client.get("/api/questions/?tag=nonexistent").json()["count"] == 0
    assert client.get("/questions/?tag=%00").context["paginator"].count == 0
