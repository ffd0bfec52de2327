"""The public pages of SPEC §3, as a visitor's browser sees them."""

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone

from qa.models import Question
from tests.conftest import counts_a_table, make_question, make_tag, sitemap_locations

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def titles_in(response) -> list[str]:
    return [q.title for q in response.context["questions"]]


# --- home ---------------------------------------------------------------------------------


def test_home_lists_latest_and_most_viewed_questions_and_tags(client):
    make_question(title="如何用 Python 做灰度反色", tags=["python"], views=5)
    make_question(title="热门问题", views=900, tags=["图像处理"])
    make_question(title="草稿问题", is_published=False, views=10_000)
    response = client.get("/")
    body = text(response)
    assert response.status_code == 200
    assert "如何用 Python 做灰度反色" in body
    assert [q.title for q in response.context["popular"]][0] == "热门问题"
    assert "草稿问题" not in body
    assert 'href="/tags/python/"' in body
    assert f'href="/tags/{quote("图像处理")}/"' in body
    assert 'name="q"' in body and 'action="/search/"' in body


def test_home_without_content_still_renders(client):
    assert client.get("/").status_code == 200


# --- /questions/ -------------------------------------------------------------------------------


def test_question_list_shows_published_questions_newest_first(client):
    now = timezone.now()
    make_question(title="旧", created=now - timedelta(days=2))
    make_question(title="新", created=now)
    make_question(title="未发布", is_published=False)
    response = client.get("/questions/")
    assert response.status_code == 200
    assert titles_in(response) == ["新", "旧"]


def test_question_list_filters_by_tag_slug_or_name(client):
    make_question(title="Java 题", tags=["Java"])
    make_question(title="Python 题", tags=["Python"])
    assert titles_in(client.get("/questions/?tag=java")) == ["Java 题"]
    assert titles_in(client.get("/questions/?tag=Python")) == ["Python 题"]


def test_question_list_with_unknown_tag_is_empty_not_an_error(client):
    make_question(tags=["python"])
    response = client.get("/questions/?tag=不存在")
    assert response.status_code == 200
    assert titles_in(response) == []


def test_question_list_sorts_by_views_and_by_update(client):
    now = timezone.now()
    low = make_question(title="少", views=1, created=now)
    make_question(title="多", views=50, created=now - timedelta(days=1))
    assert titles_in(client.get("/questions/?sort=views")) == ["多", "少"]
    low.answer = "修订后的回答"
    low.save()
    make_question(title="最新", created=now - timedelta(days=3))
    assert titles_in(client.get("/questions/?sort=updated"))[0] == "最新"
    assert titles_in(client.get("/questions/?sort=new")) == ["少", "多", "最新"]


@pytest.mark.parametrize("sort", ["bogus", "", "<script>", "views'--"])
def test_question_list_with_bad_sort_falls_back_to_newest(client, sort):
    now = timezone.now()
    make_question(title="甲", views=99, created=now - timedelta(days=1))
    make_question(title="乙", views=1, created=now)
    response = client.get("/questions/", {"sort": sort})
    assert response.status_code == 200
    assert titles_in(response) == ["乙", "甲"]


def test_times_carry_no_microseconds_in_the_datetime_attribute(client):
    """HTML allows at most three fraction digits; a time saved from the admin has six."""
    created = timezone.now().replace(microsecond=123456)
    question = make_question(created=created, tags=["python"])
    local = timezone.localtime(created).replace(microsecond=0).isoformat()
    for url in ["/", "/questions/", "/tags/python/", question.get_absolute_url()]:
        body = text(client.get(url))
        assert f'datetime="{local}"' in body, url
        assert not re.search(r'datetime="[^"]*\.123456', body), url


def test_question_list_paginates(client, settings):
    for n in range(25):
        make_question(title=f"分页 {n:02d}", created=timezone.now() - timedelta(minutes=n))
    first = client.get("/questions/")
    second = client.get("/questions/?page=2")
    assert len(first.context["questions"]) == 20
    assert titles_in(second) == [f"分页 {n:02d}" for n in range(20, 25)]
    assert 'rel="next"' in text(first) and "page=2" in text(first)
    assert 'rel="prev"' in text(second)


def test_the_list_stops_at_the_deepest_page_however_many_questions(client, monkeypatch):
    monkeypatch.setattr("qa.paging.MAX_PAGES", 2)
    for n in range(45):
        make_question(title=f"深页 {n:02d}", created=timezone.now() - timedelta(minutes=n))
    last = client.get("/questions/?page=2")
    assert titles_in(last)[0] == "深页 20"
    assert 'rel="next"' not in text(last) and last.context["paginator"].num_pages == 2
    assert client.get("/questions/?page=3").status_code == 404
    api = client.get("/api/questions/", {"page": "2"}).json()
    assert api["count"] == 45 and api["next"] is None
    assert client.get("/api/questions/", {"page": "3"}).status_code == 404


def test_pagination_links_keep_the_filters(client):
    for _ in range(21):
        make_question(tags=["python"])
    body = text(client.get("/questions/?tag=python&sort=views"))
    assert "tag=python&amp;sort=views&amp;page=2" in body


def test_filter_values_are_echoed_escaped(client):
    response = client.get("/questions/", {"tag": '"><script>alert(1)</script>'})
    body = text(response)
    assert response.status_code == 200
    assert "<script>alert(1)" not in body
    assert "&quot;&gt;&lt;script&gt;" in body


@pytest.mark.parametrize("page", ["abc", "0", "-1", "999", "1.5"])
def test_question_list_with_bad_page_is_a_styled_404(client, page):
    make_question()
    response = client.get("/questions/", {"page": page})
    assert response.status_code == 404
    assert "site-header" in text(response)


# --- /tags/<slug>/ -----------------------------------------------------------------------------


def test_tag_page_with_chinese_slug_lists_only_that_tag(client):
    tag = make_tag("图像处理")
    assert tag.slug == "图像处理"
    make_question(title="反色怎么做", tags=[tag])
    make_question(title="别的问题", tags=["java"])
    make_question(title="未发布的", tags=[tag], is_published=False)
    response = client.get(f"/tags/{quote(tag.slug)}/")
    assert response.status_code == 200
    assert titles_in(response) == ["反色怎么做"]
    assert "图像处理" in text(response)


def test_tag_page_sorts_and_paginates(client):
    tag = make_tag("python")
    make_question(title="少", tags=[tag], views=1)
    make_question(title="多", tags=[tag], views=9)
    assert titles_in(client.get("/tags/python/?sort=views")) == ["多", "少"]
    assert client.get("/tags/python/?page=7").status_code == 404


def test_unknown_tag_is_404(client):
    assert client.get("/tags/没有这个标签/").status_code == 404


# --- the question page ----------------------------------------------------------------------------


@pytest.fixture
def question():
    tag = make_tag("图像处理")
    other = make_question(title="什么是灰度图", answer="灰度图只有亮度。" * 60, tags=[tag])
    return make_question(
        title="如何用 Python 实现灰度反色？",
        body="我想把图片**反色**。",
        answer="使用 `255 - x`：\n\n```python\nout = 255 - img\n```\n",
        tags=[tag, "python"],
        related=[other],
        views=41,
        created=timezone.now() - timedelta(days=3),
    )


def test_question_page_shows_title_time_views_tags_body_and_answer(client, question):
    response = client.get(question.get_absolute_url())
    body = text(response)
    assert response.status_code == 200
    assert '<h1 id="question-title">如何用 Python 实现灰度反色？</h1>' in body
    assert f'datetime="{timezone.localtime(question.created).isoformat(timespec="seconds")}"' in body
    assert "42" in re.search(r'<span class="views">(.*?)</span>', body).group(1)
    assert f'href="/tags/{quote("图像处理")}/"' in body and 'href="/tags/python/"' in body
    assert "<strong>反色</strong>" in body
    assert '<div class="highlight">' in body


def test_question_page_lists_related_questions_with_excerpt_and_link(client, question):
    related = Question.objects.get(title="什么是灰度图")
    body = text(client.get(question.get_absolute_url()))
    section = body[body.index('id="related-heading"') :]
    assert f'href="{related.get_absolute_url()}"' in section
    assert "什么是灰度图" in section
    assert related.excerpt in section
    assert len(related.excerpt) <= 301 and related.excerpt.endswith("…")


def test_question_page_head_has_title_description_and_canonical(client, question):
    response = client.get(f"/questions/{question.pk}/{quote(question.slug)}/?utm=x")
    body = text(response)
    assert "<title>如何用 Python 实现灰度反色？ · " in body
    description = re.search(r'<meta name="description" content="([^"]*)">', body).group(1)
    assert description.startswith("使用 255 - x")
    assert "<" not in description
    canonical = re.search(r'<link rel="canonical" href="([^"]*)">', body).group(1)
    assert canonical == "http://testserver" + question.get_absolute_url()


def _json_ld(body: str) -> dict:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', body, re.DOTALL)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def test_question_page_has_qapage_json_ld(client, question):
    data = _json_ld(text(client.get(question.get_absolute_url())))
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "QAPage"
    entity = data["mainEntity"]
    assert entity["@type"] == "Question"
    assert entity["name"] == question.title
    assert entity["answerCount"] == 1
    assert entity["acceptedAnswer"]["@type"] == "Answer"
    assert entity["text"] == "我想把图片反色。"
    assert entity["acceptedAnswer"]["text"].startswith("使用 255 - x")


def test_json_ld_cannot_be_broken_out_of(client):
    title = '</script><script>alert("x")</script> & <!-- 标题'
    question = make_question(title=title, body="</SCRIPT><img src=x onerror=alert(1)>")
    body = text(client.get(question.get_absolute_url()))
    assert "<script>alert" not in body
    assert body.lower().count("</script>") == body.lower().count("<script")
    data = _json_ld(body)
    assert data["mainEntity"]["name"] == title


def test_missing_or_wrong_slug_redirects_permanently_to_canonical_url(client, question):
    for url in (f"/questions/{question.pk}/", f"/questions/{question.pk}/wrong-slug/"):
        response = client.get(url)
        assert response.status_code == 301
        assert response["Location"] == question.get_absolute_url()


def test_chinese_slug_in_canonical_url(client):
    question = make_question(title="灰度 反色")
    assert question.slug == "灰度-反色"
    response = client.get(f"/questions/{question.pk}/{quote('灰度-反色')}/")
    assert response.status_code == 200


def test_unpublished_question_is_404(client):
    question = make_question(is_published=False)
    assert client.get(question.get_absolute_url()).status_code == 404
    assert client.get(f"/questions/{question.pk}/").status_code == 404


def test_unknown_id_gives_the_styled_404_page(client):
    response = client.get("/questions/987654/x/")
    body = text(response)
    assert response.status_code == 404
    assert 'class="site-header"' in body and "/static/css/site.css" in body
    assert 'href="/"' in body


def test_unknown_url_gives_the_styled_404_page(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert 'class="error-page"' in text(response)


# --- 500 ----------------------------------------------------------------------------------------


def _boom(request):
    raise RuntimeError("secret-internal-detail")


urlpatterns = [path("boom/", _boom), path("", include("config.urls"))]
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"


@pytest.mark.urls(__name__)
def test_server_error_page_is_styled_and_hides_the_error(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    response = client.get("/boom/")
    body = text(response)
    assert response.status_code == 500
    assert "site.css" in body and "<h1>" in body
    assert "secret-internal-detail" not in body
    assert "Traceback" not in body and "RuntimeError" not in body


# --- sitemap, feed, robots, health, favicon ---------------------------------------------------------


def test_sitemap_lists_published_questions_and_tags(client):
    """/sitemap.xml is an index; its sections list the URLs."""
    shown = make_question(title="灰度反色", tags=["python"])
    hidden = make_question(title="草稿", is_published=False)
    locations = sitemap_locations(client)
    assert "http://testserver" + shown.get_absolute_url() in locations
    assert "http://testserver" + hidden.get_absolute_url() not in locations
    assert "http://testserver/tags/python/" in locations


def test_feed_lists_new_questions(client):
    make_question(title="新问题 RSS", answer="RSS 摘要内容")
    make_question(title="草稿 RSS", is_published=False)
    response = client.get("/feed/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    channel = ET.fromstring(response.content).find("channel")  # noqa: S314 - our own output
    items = {item.findtext("title"): item for item in channel.findall("item")}
    assert list(items) == ["新问题 RSS"]
    assert "RSS 摘要内容" in items["新问题 RSS"].findtext("description")


def test_robots_txt(client):
    response = client.get("/robots.txt")
    body = text(response)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "User-agent: *" in body
    assert "Disallow: /admin/" in body
    assert "Sitemap: http://testserver/sitemap.xml" in body


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_favicon_is_linked_and_served(client):
    body = text(client.get("/"))
    href = re.search(r'<link rel="icon" href="([^"]+)"', body).group(1)
    assert client.get(href).status_code == 200
    redirect = client.get("/favicon.ico")
    assert redirect.status_code == 301
    assert client.get(redirect["Location"]).status_code == 200


# --- query counts -----------------------------------------------------------------------------------


def _content(related: int = 1) -> Question:
    others = [make_question(tags=["python", "图像处理"]) for _ in range(related)]
    for n in range(6):
        make_question(tags=["python"], title=f"列表 {n}")
    return make_question(tags=["python", "图像处理"], related=others)


def test_home_query_count(client, django_assert_num_queries):
    _content()
    with django_assert_num_queries(6):
        assert client.get("/").status_code == 200


def test_question_list_query_count(client, django_assert_num_queries):
    """The count is cached under the content version: counted once, then one version read."""
    _content()
    with django_assert_num_queries(4):
        assert client.get("/questions/?sort=views").status_code == 200
    with django_assert_num_queries(3) as queries:
        assert client.get("/questions/?sort=views&page=1").status_code == 200
    assert not any(counts_a_table(query["sql"]) for query in queries.captured_queries)


def test_tag_page_query_count(client, django_assert_num_queries):
    _content()
    with django_assert_num_queries(5):
        assert client.get("/tags/python/").status_code == 200


def test_question_page_query_count(client, django_assert_num_queries):
    question = _content()
    # A cold page: its state, curated and similar candidates (one statement),
    # the question with its related rows, their tags, the resources, the view.
    with django_assert_num_queries(6):
        assert client.get(question.get_absolute_url()).status_code == 200
    # Later visits reuse the cached rendering: the question with its content
    # version, and the view count update.
    with django_assert_num_queries(2):
        assert Client().get(question.get_absolute_url()).status_code == 200


def test_question_page_query_count_does_not_grow_with_related_questions(client):
    counts = {}
    for related in (1, 5):
        question = _content(related)
        cache.clear()  # both measured cold
        with CaptureQueriesContext(connection) as queries:
            assert client.get(question.get_absolute_url()).status_code == 200
        assert len(question.related.all()) == related
        counts[related] = len(queries)
    assert counts == {1: 6, 5: 6}


def test_list_canonical_link_drops_tracking_and_filter_parameters_but_keeps_the_page(client):
    for n in range(25):
        make_question(title=f"规范链接 {n}")
    first = client.get("/questions/?utm_source=feed&sort=views").content.decode()
    assert '<link rel="canonical" href="http://testserver/questions/">' in first
    second = client.get("/questions/?page=2&utm_source=feed").content.decode()
    assert '<link rel="canonical" href="http://testserver/questions/?page=2">' in second


@pytest.mark.parametrize(
    "url",
    [
        "/questions/9223372036854775808/x/",
        "/questions/99999999999999999999/",
        "/resources/99999999999999999999/x/",
        "/resources/99999999999999999999/download/",
        "/api/questions/9223372036854775808/",
        "/api/resources/99999999999999999999/",
    ],
)
def test_ids_too_large_for_the_database_are_404_not_500(client, url):
    assert client.get(url).status_code == 404
