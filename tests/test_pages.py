import pytest

from tests.conftest import make_question

pytestmark = pytest.mark.django_db


def test_home_lists_latest_questions(client):
    make_question(title="如何用 Python 做灰度反色", tags=["python"])
    response = client.get("/")
    assert response.status_code == 200
    assert "如何用 Python 做灰度反色" in response.content.decode()


def test_question_page_shows_title_answer_and_views(client):
    question = make_question(title="什么是反色", answer="**粗体** 回答")
    response = client.get(question.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1" in body and "什么是反色" in body
    assert "<strong>粗体</strong>" in body


def test_wrong_slug_redirects_permanently_to_canonical_url(client):
    question = make_question(title="反色运算")
    response = client.get(f"/questions/{question.pk}/wrong-slug/")
    assert response.status_code == 301
    assert response["Location"] == question.get_absolute_url()


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
