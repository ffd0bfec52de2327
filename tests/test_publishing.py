"""Drafts and scheduled publishing (SPEC §5a): invisible to visitors everywhere until
published and due, live by themselves when the time passes, previewed by staff."""

import json
import re
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qa import freshness, search
from qa.importing import import_content
from qa.models import PendingPublication, Question
from qa.search.backends.reference import ReferenceBackend
from qa.transfer import TransferError
from tests.conftest import make_question

pytestmark = pytest.mark.django_db

BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 Chrome/126.0"}


def views_of(question) -> int:
    return Question.objects.values_list("views", flat=True).get(pk=question.pk)


@pytest.fixture
def hidden():
    """A draft and a question scheduled an hour ahead, both sharing a tag and words
    with a published question that lists them as curated related questions."""
    now = timezone.now()
    draft = make_question(
        title="草稿：灰度反色", answer="灰度反色的草稿回答", tags=["图像"], is_published=False
    )
    scheduled = make_question(
        title="定时：灰度反色",
        answer="灰度反色的定时回答",
        tags=["图像"],
        publish_at=now + timedelta(hours=1),
    )
    due = make_question(
        title="已到时：灰度反色",
        answer="灰度反色的回答",
        tags=["图像"],
        publish_at=now - timedelta(minutes=1),
    )
    shown = make_question(
        title="公开：灰度反色", answer="灰度反色的公开回答", tags=["图像"], related=[draft, scheduled]
    )
    return {"draft": draft, "scheduled": scheduled, "due": due, "shown": shown}


def titles(response) -> str:
    return response.content.decode()


def test_published_queryset_leaves_out_drafts_and_questions_not_yet_due(hidden):
    visible = set(Question.objects.published().values_list("pk", flat=True))
    assert visible == {hidden["due"].pk, hidden["shown"].pk}
    assert hidden["draft"].publication_state == "draft"
    assert hidden["scheduled"].publication_state == "scheduled"
    assert hidden["due"].publication_state == "published"


@pytest.mark.parametrize("url", ["/", "/questions/", "tag", "/feed/"])
def test_lists_tag_page_and_feed_leave_them_out(client, hidden, url):
    if url == "tag":
        url = reverse("qa:tag", kwargs={"slug": hidden["shown"].tags.get().slug})
    response = client.get(url)
    assert response.status_code == 200
    body = titles(response)
    assert "公开：灰度反色" in body and "已到时" in body
    assert "草稿" not in body and "定时：" not in body


def test_sitemap_section_lists_only_visible_questions(client, hidden):
    body = client.get("/sitemap.xml").content.decode()
    if "sitemapindex" in body:  # a sitemap index: read the questions section
        section = re.search(r"<loc>http://testserver(/sitemap[^<]*questions[^<]*)</loc>", body).group(1)
        body = client.get(section).content.decode()
    for name in ("shown", "due"):
        assert quote(hidden[name].get_absolute_url()) in body or hidden[name].get_absolute_url() in body
    for name in ("draft", "scheduled"):
        path = hidden[name].get_absolute_url()
        assert path not in body and quote(path) not in body


def test_search_leaves_them_out_on_the_engine_and_the_reference(client, hidden):
    expected = {hidden["shown"].pk, hidden["due"].pk}
    assert set(search.search("灰度反色").ids) == expected
    assert search.search("灰度反色").ids == search.search("灰度反色", engine=ReferenceBackend()).ids
    page = titles(client.get("/search/", {"q": "灰度反色"}))
    assert "公开" in page and "草稿" not in page and "定时：" not in page


def test_related_lists_leave_them_out(client, hidden):
    related = Question.objects.related_to(hidden["shown"])
    assert {q.pk for q in related} == {hidden["due"].pk}
    _question, _tags, related = Question.objects.with_related(hidden["shown"].pk)
    assert {q.pk for q in related} == {hidden["due"].pk}
    page = titles(client.get(hidden["shown"].get_absolute_url()))
    assert "已到时" in page and "草稿" not in page and "定时：" not in page


def test_api_list_search_and_detail_leave_them_out(client, hidden):
    listed = client.get("/api/questions/").json()
    assert {item["id"] for item in listed["results"]} == {hidden["shown"].pk, hidden["due"].pk}
    found = client.get("/api/questions/", {"q": "灰度反色"}).json()
    assert {item["id"] for item in found["results"]} == {hidden["shown"].pk, hidden["due"].pk}
    for name in ("draft", "scheduled"):
        assert client.get(f"/api/questions/{hidden[name].pk}/").status_code == 404
    detail = client.get(f"/api/questions/{hidden['shown'].pk}/").json()
    assert [item["id"] for item in detail["related"]] == [hidden["due"].pk]


@pytest.mark.parametrize("name", ["draft", "scheduled"])
def test_their_pages_are_the_404_page_and_count_no_view(hidden, name):
    question = hidden[name]
    visitor = Client(**BROWSER)
    response = visitor.get(question.get_absolute_url())
    assert response.status_code == 404
    assert question.title not in response.content.decode()
    assert views_of(question) == 0


# --- going live with no write -------------------------------------------------------------------


def _let_time_pass(question):
    """Move the question's publish_at, and the recorded publication time, into the
    past without saving anything: what the clock does to a scheduled question."""
    past = timezone.now() - timedelta(seconds=1)
    Question.objects.filter(pk=question.pk).update(publish_at=past)
    PendingPublication.objects.update(at=past)


def test_a_scheduled_question_goes_live_in_every_cache_when_its_time_passes(client, hidden):
    scheduled, shown = hidden["scheduled"], hidden["shown"]
    version = freshness.current()
    # Warm the caches that key on the content version: the page, search, the API's search pages.
    assert "定时：" not in titles(client.get(shown.get_absolute_url()))
    assert scheduled.pk not in search.search("灰度反色").ids
    assert scheduled.pk not in {
        i["id"] for i in client.get("/api/questions/", {"q": "灰度反色"}).json()["results"]
    }
    assert client.get(scheduled.get_absolute_url()).status_code == 404

    _let_time_pass(scheduled)

    assert freshness.current() == version + 1
    assert "定时：灰度反色" in titles(client.get(shown.get_absolute_url()))
    assert scheduled.pk in search.search("灰度反色").ids
    assert scheduled.pk in {
        i["id"] for i in client.get("/api/questions/", {"q": "灰度反色"}).json()["results"]
    }
    visitor = Client(**BROWSER)
    assert visitor.get(scheduled.get_absolute_url()).status_code == 200
    assert views_of(scheduled) == 1


def test_the_content_version_never_goes_back_when_a_write_folds_passed_times_in(hidden):
    _let_time_pass(hidden["scheduled"])
    passed = freshness.current()
    assert PendingPublication.objects.count() == 1
    hidden["shown"].save()  # any write takes the passed time into the stored number
    assert PendingPublication.objects.count() == 0
    assert freshness.current() == passed + 1


def test_only_a_save_with_a_future_publish_at_records_a_publication_time():
    make_question()
    make_question(publish_at=timezone.now() - timedelta(days=1))
    assert not PendingPublication.objects.exists()
    make_question(publish_at=timezone.now() + timedelta(days=1))
    assert PendingPublication.objects.count() == 1


def test_the_question_page_state_stays_one_query_with_the_clock_in_it(
    client, hidden, django_assert_num_queries
):
    url = hidden["shown"].get_absolute_url()
    client.get(url)
    with django_assert_num_queries(2):  # the page state with the version, and the view count
        assert Client().get(url).status_code == 200


# --- staff preview ------------------------------------------------------------------------------


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("editor", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_question", "change_question"]))
    client = Client(**BROWSER)
    client.force_login(user)
    return client


def test_staff_preview_a_draft_with_a_banner_uncached_and_uncounted(staff, hidden):
    draft = hidden["draft"]
    response = staff.get(draft.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="preview-banner"' in body and "草稿" in body
    assert "no-store" in response["Cache-Control"]
    assert views_of(draft) == 0


def test_staff_preview_of_a_scheduled_question_says_when(staff, hidden):
    body = staff.get(hidden["scheduled"].get_absolute_url()).content.decode()
    assert "定时发布于" in body
    local = timezone.localtime(hidden["scheduled"].publish_at)
    assert local.strftime("%Y-%m-%d %H:%M") in body


def test_staff_without_view_permission_get_the_404_page(django_user_model, hidden):
    user = django_user_model.objects.create_user("intern", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(hidden["draft"].get_absolute_url()).status_code == 404


def test_published_pages_carry_no_banner(staff, hidden):
    assert "preview-banner" not in staff.get(hidden["shown"].get_absolute_url()).content.decode()


# --- admin ----------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", None))
    return client


def test_admin_lists_the_state_and_filters_by_it(admin_client, hidden):
    page = admin_client.get("/admin/qa/question/").content.decode()
    assert "草稿" in page and "定时发布于" in page and "已发布" in page
    for state, expected in [
        ("draft", {"draft"}),
        ("scheduled", {"scheduled"}),
        ("published", {"due", "shown"}),
    ]:
        response = admin_client.get("/admin/qa/question/", {"state": state})
        assert {q.pk for q in response.context["cl"].result_list} == {hidden[n].pk for n in expected}


def test_a_publish_at_that_is_not_a_time_is_a_form_error(admin_client):
    question = make_question(title="原标题")
    form = {
        "title": "新标题",
        "slug": question.slug,
        "answer": question.answer,
        "is_published": "on",
        "publish_at_0": "明天早上",
        "publish_at_1": "九点",
        "created_0": "2024-01-01",
        "created_1": "10:00:00",
        "related_links-TOTAL_FORMS": "0",
        "related_links-INITIAL_FORMS": "0",
        "recommendations-TOTAL_FORMS": "0",
        "recommendations-INITIAL_FORMS": "0",
        "figures-TOTAL_FORMS": "0",
        "figures-INITIAL_FORMS": "0",
    }
    response = admin_client.post(f"/admin/qa/question/{question.pk}/change/", form)
    assert response.status_code == 200
    assert "publish_at" in response.context["adminform"].form.errors
    assert Question.objects.get(pk=question.pk).title == "原标题"


# --- import and export ------------------------------------------------------------------------------


def _content_file(tmp_path, **question):
    path = tmp_path / "content.json"
    item = {"key": "sched", "title": "定时导入", "answer": "回答", **question}
    path.write_text(json.dumps({"questions": [item]}, ensure_ascii=False), encoding="utf-8")
    return path


def test_import_reads_published_and_publish_at(tmp_path):
    import_content(path=_content_file(tmp_path, published=False))
    assert Question.objects.get(key="sched").publication_state == "draft"
    import_content(path=_content_file(tmp_path, published=True, publish_at="2999-01-01T08:00:00+08:00"))
    question = Question.objects.get(key="sched")
    assert question.publication_state == "scheduled"
    assert question.publish_at.isoformat() == "2999-01-01T00:00:00+00:00"
    assert PendingPublication.objects.filter(at=question.publish_at).exists()


def test_a_bad_publish_at_names_the_item_and_field_and_writes_nothing(tmp_path):
    with pytest.raises(TransferError) as error:
        import_content(path=_content_file(tmp_path, publish_at="下周一"))
    assert error.value.problems == [
        'questions[0] (key "sched"), field "publish_at": is not an ISO 8601 date and time: "下周一"'
    ]
    assert not Question.objects.exists()


def test_export_writes_published_and_publish_at_and_reimports_them(tmp_path):
    at = timezone.now().replace(microsecond=0) + timedelta(days=3)
    make_question(key="later", publish_at=at)
    make_question(key="draft", is_published=False)
    make_question(key="now")
    call_command("export_content", str(tmp_path / "out"))
    exported = {q["key"]: q for q in json.loads((tmp_path / "out" / "content.json").read_text())["questions"]}
    assert exported["draft"]["published"] is False and "publish_at" not in exported["draft"]
    assert "publish_at" not in exported["now"]
    assert datetime.fromisoformat(exported["later"]["publish_at"]) == at
    Question.objects.all().delete()
    import_content(path=tmp_path / "out")
    assert Question.objects.get(key="later").publish_at == at
    assert Question.objects.get(key="draft").publication_state == "draft"
