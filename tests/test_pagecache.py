"""The cached question page: cheap on a repeat visit, never stale after a write."""

import re

import pytest
from django.test import Client

from qa.models import Question
from resources.models import Recommendation
from tests.conftest import make_question, make_resource

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def visit(question, **headers) -> str:
    """One anonymous visit from a fresh browser (no cookies: a counted view)."""
    response = Client(**headers).get(question.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def views_shown(html: str) -> int:
    return int(re.search(r'<span class="views">(\d+)', html).group(1))


def test_repeat_visit_is_served_from_cache_with_two_queries(django_assert_num_queries):
    question = make_question(tags=["python"], related=[make_question(tags=["python"])])
    visit(question)
    # One query for the question and its content version, one to count the view.
    with django_assert_num_queries(2):
        visit(question)


@pytest.mark.parametrize("count", [1, 5])
def test_first_rendering_takes_six_queries_whatever_the_resources(count, django_assert_num_queries):
    question = make_question(tags=["python"], related=[make_question(tags=["python"])])
    for n in range(count):
        Recommendation.objects.create(
            question=question, resource=make_resource(title=f"资料 {n}"), position=n
        )
    for n in range(count):
        make_resource(title=f"新资料 {n}")
    with django_assert_num_queries(6):
        html = visit(question)
    assert html.count('class="related__item resource-item"') == count
    assert "资料 0" in html and f"新资料 {count - 1}" in html


def test_every_cached_visit_shows_its_own_view_count():
    question = make_question()
    assert [views_shown(visit(question)) for _ in range(3)] == [1, 2, 3]
    question.refresh_from_db()
    assert question.views == 3


def test_view_count_label_follows_the_language_and_plural():
    question = make_question()
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert '<span class="views">1 view</span>' in english.get(question.get_absolute_url()).content.decode()
    html = Client(HTTP_ACCEPT_LANGUAGE="en").get(question.get_absolute_url()).content.decode()
    assert '<span class="views">2 views</span>' in html


def test_the_cached_page_carries_no_per_visitor_token():
    """One rendering serves everyone: no CSRF token or cookie is made for a page view."""
    question = make_question()
    pages = []
    for _ in range(2):
        response = Client().get(question.get_absolute_url())
        assert "csrftoken" not in response.cookies
        pages.append(response.content.decode())
    assert "csrfmiddlewaretoken" not in pages[0]
    # Apart from the view count, both visitors got the same bytes.
    assert pages[0].replace(">1 ", ">N ") == pages[1].replace(">2 ", ">N ")


def test_answer_text_cannot_spell_the_view_count_placeholder():
    from qa.pagecache import VIEWS_SLOT

    question = make_question(title=f"标题 {VIEWS_SLOT}", answer=f"回答 {VIEWS_SLOT} `{VIEWS_SLOT}`")
    html = visit(question)
    assert html.count('<span class="views">') == 1
    # Escaped wherever it appears, so filling the slot touched only the view count.
    assert VIEWS_SLOT not in html
    assert "1 " in re.search(r'<span class="views">([^<]*)</span>', html).group(1)


def test_edit_of_the_question_shows_at_once():
    question = make_question(title="旧标题")
    visit(question)
    question.title = "新标题"
    question.answer = "新的回答"
    question.save()
    html = visit(question)
    assert "新标题" in html and "新的回答" in html
    assert "旧标题" not in html


def test_edit_of_a_related_question_shows_at_once():
    other = make_question(title="相关问题 A")
    question = make_question(related=[other])
    assert "相关问题 A" in visit(question)
    other.title = "相关问题 B"
    other.save()
    html = visit(question)
    assert "相关问题 B" in html and "相关问题 A" not in html


def test_deleted_related_question_disappears_at_once():
    other = make_question(title="将被删除的问题")
    question = make_question(related=[other])
    assert "将被删除的问题" in visit(question)
    other.delete()
    assert "将被删除的问题" not in visit(question)


def test_unpublished_related_question_disappears_at_once():
    other = make_question(title="将被下线的问题")
    question = make_question(related=[other])
    assert "将被下线的问题" in visit(question)
    other.is_published = False
    other.save()
    assert "将被下线的问题" not in visit(question)


def test_unpublished_question_is_gone_at_once():
    question = make_question()
    visit(question)
    Question.objects.filter(pk=question.pk).update(is_published=False)
    assert Client().get(question.get_absolute_url()).status_code == 404


def test_new_resource_shows_in_latest_resources_at_once():
    question = make_question()
    visit(question)
    make_resource(title="新上传的资料")
    assert "新上传的资料" in visit(question)


def test_recommendation_added_and_resource_deleted_show_at_once():
    question = make_question()
    resource = make_resource(title="推荐资料")
    visit(question)
    Recommendation.objects.create(question=question, resource=resource)
    html = visit(question)
    assert html.count("推荐资料") >= 1
    resource.delete()
    assert "推荐资料" not in visit(question)


def test_deletion_in_the_admin_shows_at_once(admin_client):
    other = make_question(title="管理员删除的问题")
    question = make_question(related=[other])
    assert "管理员删除的问题" in visit(question)
    response = admin_client.post(f"/admin/qa/question/{other.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert "管理员删除的问题" not in visit(question)


def test_different_hosts_get_their_own_canonical_link(settings):
    settings.ALLOWED_HOSTS = ["a.example", "b.example", "testserver"]
    question = make_question()
    first = visit(question, HTTP_HOST="a.example")
    second = visit(question, HTTP_HOST="b.example")
    assert 'href="http://a.example/' in first
    assert 'href="http://b.example/' in second


def test_signed_in_editor_always_gets_a_fresh_rendering(admin_client):
    question = make_question(title="缓存中的标题")
    visit(question)
    # A bulk update bypasses every version source, so anonymous visitors keep
    # the cached copy until it expires; an editor checking their work does not.
    Question.objects.filter(pk=question.pk).update(title="直接更新的标题")
    assert "缓存中的标题" in visit(question)
    assert "直接更新的标题" in admin_client.get(question.get_absolute_url()).content.decode()


def test_a_signed_in_editor_never_gets_the_shared_rendering():
    """Editors see the live page; visitors without a session cookie share the cache."""
    from django.contrib.auth import get_user_model

    question = make_question(title="缓存的标题")
    visit(question)
    # A bulk update sends no signal, so the content version stays.
    Question.objects.filter(pk=question.pk).update(title="只在数据库里改过的标题")
    assert "缓存的标题" in visit(question)  # visitors: the cached rendering
    editor = Client()
    editor.force_login(get_user_model().objects.create_user("editor", password="a-long-Passw0rd"))
    assert "只在数据库里改过的标题" in editor.get(question.get_absolute_url()).content.decode()
    # A visitor with a session cookie that belongs to nobody still shares the cache.
    stranger = Client()
    stranger.cookies["sessionid"] = "no-such-session"
    assert "缓存的标题" in stranger.get(question.get_absolute_url()).content.decode()
