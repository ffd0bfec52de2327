"""The editors' admin (SPEC §11): access, forms, related questions, actions and Markdown preview."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from qa.models import Question, RelatedQuestion, Tag
from tests.conftest import make_question

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/qa/question/"
PREVIEW = "/admin/qa/question/markdown-preview/"


@pytest.fixture
def admin_client(django_user_model):
    """A superuser; logged in directly, so no slow password hashing per test."""
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", None))
    return client


@pytest.fixture
def member(django_user_model):
    """A logged-in visitor account without staff status."""
    user = django_user_model.objects.create_user("reader")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def bare_staff(django_user_model):
    """Staff, but without any permission on questions."""
    user = django_user_model.objects.create_user("intern", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def editor(django_user_model):
    """Staff allowed to change questions, with CSRF checks on as in a browser."""
    user = django_user_model.objects.create_user("editor", is_staff=True)
    allowed = ["change_question", "view_question"]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="qa", codename__in=allowed))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_token_for(client) -> str:
    """The token admin-preview.js reads from the form on the page."""
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode()).group(1)


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/", CHANGELIST, "/admin/qa/question/add/", PREVIEW])
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_non_staff_users_are_refused(member):
    question = make_question()
    for url in ("/admin/", CHANGELIST, f"/admin/qa/question/{question.pk}/change/"):
        response = member.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert member.post(PREVIEW, {"text": "x"}).status_code == 302


def test_staff_without_question_permission_cannot_open_questions(bare_staff):
    assert bare_staff.get(CHANGELIST).status_code == 403
    assert bare_staff.post(PREVIEW, {"text": "x"}).status_code == 403


# --- forms -------------------------------------------------------------------------------------


def test_change_form_renders_with_tags_related_inline_and_preview(admin_client):
    question = make_question(title="灰度反色", tags=["python"])
    response = admin_client.get(f"/admin/qa/question/{question.pk}/change/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="tags"' in body
    assert 'name="related_links-TOTAL_FORMS"' in body
    assert "admin-autocomplete" in body
    assert f'data-markdown-preview="{PREVIEW}"' in body
    assert body.count("data-markdown-preview=") == 2
    assert "js/admin-preview.js" in body and "css/admin-preview.css" in body
    assert "<script>" not in body


def test_add_form_renders(admin_client):
    assert admin_client.get("/admin/qa/question/add/").status_code == 200
    assert admin_client.get("/admin/qa/tag/add/").status_code == 200


def _change_form_data(question, **overrides):
    data = {
        "title": question.title,
        "slug": question.slug,
        "key": question.key or "",
        "tags": [tag.pk for tag in question.tags.all()],
        "is_published": "on" if question.is_published else "",
        "created_0": question.created.strftime("%Y-%m-%d"),
        "created_1": question.created.strftime("%H:%M:%S"),
        "body": question.body,
        "answer": question.answer,
    }
    for prefix in ("related_links", "recommendations", "figures"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    data.update(overrides)
    return data


def test_saving_the_change_form_adds_a_related_question_and_rerenders_markdown(admin_client):
    question = make_question(title="主问题")
    other = make_question(title="相关问题")
    data = _change_form_data(
        question,
        answer="新的 **回答**",
        **{
            "related_links-TOTAL_FORMS": "1",
            "related_links-0-to_question": str(other.pk),
            "related_links-0-position": "0",
        },
    )
    response = admin_client.post(f"/admin/qa/question/{question.pk}/change/", data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    question.refresh_from_db()
    assert question.answer_html == "<p>新的 <strong>回答</strong></p>"
    links = RelatedQuestion.objects.filter(from_question=question)
    assert [link.to_question_id for link in links] == [other.pk]


def test_views_are_read_only_in_the_admin(admin_client):
    question = make_question(views=12)
    response = admin_client.post(
        f"/admin/qa/question/{question.pk}/change/", _change_form_data(question, views="99999")
    )
    assert response.status_code == 302
    assert Question.objects.get(pk=question.pk).views == 12
    body = admin_client.get(f"/admin/qa/question/{question.pk}/change/").content.decode()
    assert 'name="views"' not in body


def test_related_question_autocomplete_returns_matching_questions(admin_client):
    make_question(title="如何实现灰度反色")
    make_question(title="Java 集合")
    response = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "qa", "model_name": "relatedquestion", "field_name": "to_question", "term": "灰度"},
    )
    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["如何实现灰度反色"]


def test_tag_admin_lists_and_searches_tags(admin_client):
    Tag.objects.create(name="图像处理")
    Tag.objects.create(name="java")
    make_question(tags=["图像处理"])
    make_question(tags=["图像处理", "java"])
    response = admin_client.get("/admin/qa/tag/", {"q": "图像"})
    assert response.status_code == 200
    assert [(tag.name, tag.question_count) for tag in response.context["cl"].result_list] == [("图像处理", 2)]
    assert admin_client.get("/admin/qa/tag/", {"o": "-3"}).status_code == 200


def test_tag_admin_counts_a_popular_tag_only_so_far(admin_client, monkeypatch):
    monkeypatch.setattr("qa.admin.COUNT_UP_TO", 3)
    for _n in range(6):
        make_question(tags=["python"])
    for _n in range(3):
        make_question(tags=["java"])
    response = admin_client.get("/admin/qa/tag/")
    rows = {tag.name: tag.question_count for tag in response.context["cl"].result_list}
    assert rows == {"python": 4, "java": 3}  # counted to one past the limit, no further
    body = response.content.decode()
    assert ">超过 3<" in body and ">3<" in body


# --- actions, search, filters ---------------------------------------------------------------------


def test_unpublish_and_publish_actions(admin_client, client):
    first, second = make_question(), make_question()
    selected = {"_selected_action": [first.pk, second.pk], "index": "0"}
    response = admin_client.post(CHANGELIST, {"action": "unpublish", **selected}, follow=True)
    assert response.status_code == 200
    assert not Question.objects.filter(is_published=True).exists()
    assert client.get(first.get_absolute_url()).status_code == 404
    admin_client.post(CHANGELIST, {"action": "publish", **selected})
    assert Question.objects.filter(is_published=True).count() == 2
    assert client.get(first.get_absolute_url()).status_code == 200


def test_changelist_search(admin_client):
    make_question(title="灰度反色怎么做")
    make_question(title="别的", answer="答案里提到灰度")
    make_question(title="无关")
    response = admin_client.get(CHANGELIST, {"q": "灰度"})
    assert sorted(q.title for q in response.context["cl"].result_list) == ["别的", "灰度反色怎么做"]


def test_changelist_filters_by_published_and_tag(admin_client):
    make_question(title="草稿", is_published=False, tags=["java"])
    make_question(title="已发布", tags=["python"])
    drafts = admin_client.get(CHANGELIST, {"state": "draft"})
    assert [q.title for q in drafts.context["cl"].result_list] == ["草稿"]
    python = Tag.objects.get(name="python")
    tagged = admin_client.get(CHANGELIST, {"tags__id__exact": python.pk})
    assert [q.title for q in tagged.context["cl"].result_list] == ["已发布"]


def test_changelist_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    for _ in range(30):
        make_question(tags=["python"])
    with django_assert_max_num_queries(12):
        assert admin_client.get(CHANGELIST).status_code == 200


# --- Markdown preview -------------------------------------------------------------------------------


def test_preview_renders_markdown_like_the_site(editor):
    token = csrf_token_for(editor)
    response = editor.post(PREVIEW, {"text": "## 标题\n\n**粗体** `code`"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    html = response.json()["html"]
    assert '<h2 id="标题">' in html
    assert "<strong>粗体</strong>" in html and "<code>code</code>" in html


def test_preview_output_is_sanitised(editor):
    token = csrf_token_for(editor)
    source = '<script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:1) <p style="a">s</p>'
    html = editor.post(PREVIEW, {"text": source}, HTTP_X_CSRFTOKEN=token).json()["html"]
    assert "<script" not in html and "onerror" not in html
    assert "javascript:" not in html and "style=" not in html


def test_preview_requires_the_csrf_token(editor):
    csrf_token_for(editor)
    assert editor.post(PREVIEW, {"text": "x"}).status_code == 403
    assert editor.post(PREVIEW, {"text": "x"}, HTTP_X_CSRFTOKEN="forged" * 6).status_code == 403


def test_preview_only_accepts_post(admin_client):
    assert admin_client.get(PREVIEW).status_code == 405


def test_preview_of_empty_text_is_empty(admin_client):
    assert admin_client.post(PREVIEW, {"text": ""}).json() == {"html": ""}


def test_preview_refuses_huge_text(admin_client):
    response = admin_client.post(PREVIEW, {"text": "字" * 200_001})
    assert response.status_code == 413
    assert "error" in response.json()
