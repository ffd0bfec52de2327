"""Pages for readers that are not browsers, and the small conventions: .md pages, llms.txt,
OpenSearch, Open Graph, the web manifest and icon, per-tag feeds, CORS on API reads."""

import json
import xml.etree.ElementTree as ET
from io import BytesIO

import pytest
from django.contrib.staticfiles import finders
from PIL import Image

from qa.models import Question
from tests.conftest import make_question

pytestmark = pytest.mark.django_db


def md_url(question):
    return question.get_absolute_url().rstrip("/") + ".md"


# --- questions as Markdown ---------------------------------------------------------------------


def test_a_question_as_markdown_is_its_source_with_a_title_and_tags(client):
    question = make_question(
        title="灰度反色",
        body="怎样**反色**？",
        answer="公式 $T = 255 - S$。\n\n$$\nx^2\n$$\n\n```python\nprint(1)\n```",
        tags=["python", "图像处理"],
        views=4,
    )
    response = client.get(md_url(question))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("# 灰度反色\n")
    assert "- URL: http://testserver" + question.get_absolute_url() in text
    assert "[python](http://testserver/tags/python/)" in text and "图像处理" in text
    assert "## Question\n\n怎样**反色**？" in text
    assert "公式 $T = 255 - S$。" in text and "$$\nx^2\n$$" in text  # math stays LaTeX
    assert "```python\nprint(1)\n```" in text
    assert "<math" not in text
    assert Question.objects.get(pk=question.pk).views == 4  # never counted


def test_a_wrong_slug_redirects_to_the_canonical_markdown(client):
    question = make_question(title="灰度反色")
    response = client.get(f"/questions/{question.pk}/wrong.md")
    assert response.status_code == 301
    assert response["Location"] == md_url(question)


@pytest.mark.parametrize("suffix", ["", "9999999/x.md", "abc/x.md", "99999999999999999999/x.md"])
def test_drafts_and_unknown_ids_are_404(client, suffix):
    draft = make_question(is_published=False)
    url = md_url(draft) if not suffix else "/questions/" + suffix
    assert client.get(url).status_code == 404


def test_the_question_page_links_its_markdown_and_carries_open_graph_tags(client):
    question = make_question(title="灰度反色", answer="把每个像素取反。")
    html = client.get(question.get_absolute_url()).content.decode()
    assert f'<link rel="alternate" type="text/markdown" href="{md_url(question)}">' in html
    assert '<meta property="og:title" content="灰度反色">' in html
    assert '<meta property="og:type" content="article">' in html
    assert f'<meta property="og:url" content="http://testserver{question.get_absolute_url()}">' in html
    assert '<meta property="og:description" content="把每个像素取反。">' in html
    assert '<meta property="og:site_name"' in html
    assert '<meta name="twitter:card" content="summary">' in html


def test_open_graph_text_is_escaped(client):
    question = make_question(title='"><script>alert(1)</script>')
    html = client.get(question.get_absolute_url()).content.decode()
    assert "<script>alert(1)" not in html


# --- llms.txt ----------------------------------------------------------------------------------


def test_llms_txt_lists_sections_questions_and_tags(client):
    question = make_question(title="灰度反色", tags=["python"])
    make_question(title="另一个", tags=["python"])
    make_question(title="草稿不列", is_published=False, tags=["hidden"])
    response = client.get("/llms.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("# ")
    assert "\n> " in text
    for section in ["## Questions", "## Tags", "## Resources", "## API"]:
        assert section in text
    assert f"- [灰度反色](http://testserver{md_url(question)})" in text
    assert "[python](http://testserver/tags/python/): 2 questions" in text
    assert "草稿不列" not in text and "hidden" not in text
    assert "http://testserver/api/openapi.json" in text and "http://testserver/mcp" in text


def test_llms_txt_shows_edits_at_once(client):
    question = make_question(title="旧标题")
    assert "旧标题" in client.get("/llms.txt").content.decode()
    question.title = "新标题"
    question.save()
    assert "新标题" in client.get("/llms.txt").content.decode()


# --- OpenSearch, manifest, icon ----------------------------------------------------------------


def test_opensearch_description_points_at_the_search_page(client):
    response = client.get("/opensearch.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/opensearchdescription+xml"
    root = ET.fromstring(response.content)  # noqa: S314 - our own output
    ns = {"os": "http://a9.com/-/spec/opensearch/1.1/"}
    templates = {url.get("type"): url.get("template") for url in root.findall("os:Url", ns)}
    assert templates["text/html"] == "http://testserver/search/?q={searchTerms}"
    assert root.find("os:ShortName", ns).text


def test_every_page_links_opensearch_manifest_and_touch_icon(client):
    html = client.get("/").content.decode()
    assert '<link rel="search" type="application/opensearchdescription+xml"' in html
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert '<link rel="apple-touch-icon" href="/static/img/apple-touch-icon.png">' in html


def test_the_manifest_is_json_with_icons_that_exist(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] and manifest["short_name"] and manifest["start_url"] == "/"
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_the_touch_icon_is_a_180_pixel_png():
    with open(finders.find("img/apple-touch-icon.png"), "rb") as fh:
        image = Image.open(BytesIO(fh.read()))
    assert image.format == "PNG" and image.size == (180, 180)


# --- per-tag feeds -----------------------------------------------------------------------------


def test_a_tag_has_its_own_feed_of_published_questions(client):
    make_question(title="Python 问题", tags=["python"])
    make_question(title="Java 问题", tags=["java"])
    make_question(title="Python 草稿", tags=["python"], is_published=False)
    response = client.get("/tags/python/feed/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    feed = ET.fromstring(response.content)  # noqa: S314 - our own output
    titles = [item.findtext("title") for item in feed.iter("item")]
    assert titles == ["Python 问题"]
    assert client.get("/tags/nothing/feed/").status_code == 404


def test_the_tag_page_links_its_feed(client):
    make_question(tags=["python"])
    html = client.get("/tags/python/").content.decode()
    assert '<link rel="alternate" type="application/rss+xml"' in html
    assert 'href="/tags/python/feed/"' in html


# --- CORS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/questions/", "/api/questions/424242/", "/api/resources/", "/api/openapi.json"]
)
def test_api_reads_may_be_fetched_from_any_origin_without_credentials(client, url):
    response = client.get(url, headers={"Origin": "https://elsewhere.example"})
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


def test_the_image_tool_mcp_and_pages_are_not_opened_to_other_origins(client):
    assert not client.post("/api/tools/invert/").has_header("Access-Control-Allow-Origin")
    assert not client.post("/mcp", "{}", content_type="application/json").has_header(
        "Access-Control-Allow-Origin"
    )
    assert not client.get("/").has_header("Access-Control-Allow-Origin")


def test_figures_in_a_markdown_page_are_absolute_image_urls(client, media_root):
    from tests.test_figures import add_figure

    question = make_question(answer="前后对比：\n\n![反色后的猫](figure:cat)\n\n![没有这张](figure:nope)")
    figure = add_figure(question, name="cat", alt="反色后的猫")
    text = client.get(md_url(question)).content.decode()
    assert f"![反色后的猫](http://testserver{figure.as_ref().url})" in text
    assert "(figure:cat)" not in text
    assert "![没有这张](figure:nope)" in text  # an unknown name stays as written
    image = client.get(figure.as_ref().url)
    assert image.status_code == 200 and image["Content-Type"].startswith("image/")
