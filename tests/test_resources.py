"""Resources: stored files, pages, the question page sections, API, query counts."""

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from resources.models import Recommendation, Resource
from tests.conftest import PDF_BYTES, make_question, make_resource, sitemap_locations

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def stored_path(resource):
    return resource.file.storage.path(resource.file.name)


def test_saving_records_name_type_size_and_hash():
    resource = make_resource(content=PDF_BYTES, filename="机器学习 入门.PDF")
    assert resource.original_name == "机器学习 入门.PDF"
    assert resource.file_type == "pdf"
    assert resource.size == len(PDF_BYTES)
    assert resource.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert resource.description_html == "<p>第 1 个资源的<strong>说明</strong>。</p>".replace(
        "1", resource.title.split()[-1]
    )


def test_stored_name_is_generated_and_never_overwrites_same_original_name():
    first = make_resource(content=b"%PDF-first", filename="同名.pdf")
    second = make_resource(content=b"%PDF-second", filename="同名.pdf")
    assert first.file.name != second.file.name
    assert "同名" not in first.file.name
    with open(stored_path(first), "rb") as fh:
        assert fh.read() == b"%PDF-first"
    with open(stored_path(second), "rb") as fh:
        assert fh.read() == b"%PDF-second"


def test_deleting_a_resource_removes_its_file(django_capture_on_commit_callbacks):
    resource = make_resource()
    path = stored_path(resource)
    with django_capture_on_commit_callbacks(execute=True):
        resource.delete()
    assert not resource.file.storage.exists(resource.file.name)
    assert not __import__("os").path.exists(path)


def test_bulk_delete_also_removes_files(django_capture_on_commit_callbacks):
    resources = [make_resource(), make_resource()]
    with django_capture_on_commit_callbacks(execute=True):
        Resource.objects.filter(pk__in=[r.pk for r in resources]).delete()
    assert not any(r.file.storage.exists(r.file.name) for r in resources)


def test_rolled_back_delete_keeps_the_file(django_capture_on_commit_callbacks):
    resource = make_resource()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        resource.delete()
    # Callbacks registered but not run: the transaction never committed.
    assert callbacks
    assert resource.file.storage.exists(resource.file.name)


def test_replacing_the_file_updates_metadata_and_removes_the_old_file(django_capture_on_commit_callbacks):
    resource = make_resource(content=PDF_BYTES, filename="旧.pdf")
    old_name = resource.file.name
    new_bytes = b"PK\x05\x06" + b"\x00" * 18
    resource.file = ContentFile(new_bytes, name="新的.zip")
    with django_capture_on_commit_callbacks(execute=True):
        resource.save()
    resource.refresh_from_db()
    assert (resource.original_name, resource.file_type, resource.size) == ("新的.zip", "zip", len(new_bytes))
    assert resource.sha256 == hashlib.sha256(new_bytes).hexdigest()
    assert resource.file.name != old_name
    assert not resource.file.storage.exists(old_name)


def test_list_page_filters_by_type_and_sorts_by_downloads(client):
    make_resource(title="PDF 讲义", downloads=3)
    make_resource(title="ZIP 源码", filename="code.zip", content=b"PK\x05\x06" + b"\x00" * 18, downloads=9)
    body = client.get("/resources/?type=zip").content.decode()
    assert "ZIP 源码" in body and "PDF 讲义" not in body
    body = client.get("/resources/?sort=downloads").content.decode()
    assert body.index("ZIP 源码") < body.index("PDF 讲义")
    body = client.get("/resources/?sort=nonsense").content.decode()
    assert body.index("ZIP 源码") < body.index("PDF 讲义")  # falls back to newest


def test_list_page_paginates(client, settings):
    for _ in range(25):
        make_resource()
    first = client.get("/resources/")
    assert len(first.context["resources"]) == 20
    second = client.get("/resources/?page=2")
    assert len(second.context["resources"]) == 5


def test_unpublished_resources_are_hidden(client):
    hidden = make_resource(title="草稿资源", is_published=False)
    assert "草稿资源" not in client.get("/resources/").content.decode()
    assert client.get(hidden.get_absolute_url()).status_code == 404
    assert client.get(hidden.get_download_url()).status_code == 404


def test_detail_page_shows_facts_and_recommending_questions(client):
    question = make_question(title="如何做灰度反色")
    hidden = make_question(title="未发布的问题", is_published=False)
    resource = make_resource(title="反色示例代码", questions=[question, hidden])
    response = client.get(resource.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1" in body and "反色示例代码" in body
    assert "PDF" in body and resource.get_download_url() in body
    assert "如何做灰度反色" in body and "未发布的问题" not in body
    assert "<strong>说明</strong>" in body


def test_detail_wrong_slug_redirects_to_canonical(client):
    resource = make_resource(title="反色 工具")
    response = client.get(f"/resources/{resource.pk}/wrong/")
    assert response.status_code == 301
    assert response["Location"] == resource.get_absolute_url()
    assert client.get(f"/resources/{resource.pk}/").status_code == 301
    assert client.get("/resources/999999/x/").status_code == 404


def test_question_page_lists_its_resources_in_order_and_latest_resources(client):
    question = make_question(title="反色问题")
    second = make_resource(title="第二个资源", description="简短说明二")
    first = make_resource(title="第一个资源", filename="tool.exe", content=b"MZ\x90\x00")
    Recommendation.objects.create(question=question, resource=first, position=0)
    Recommendation.objects.create(question=question, resource=second, position=1)
    make_resource(title="无关的新资源")
    body = client.get(question.get_absolute_url()).content.decode()
    related = body[body.index('id="resources-heading"') :]
    related = related[: related.index("</section>")]
    assert related.index("第一个资源") < related.index("第二个资源")
    assert "EXE" in related and "简短说明二" in related
    assert "无关的新资源" not in related
    assert "无关的新资源" in body  # the latest resources panel


def test_home_page_shows_latest_resources(client):
    make_resource(title="首页上的资源")
    body = client.get("/").content.decode()
    assert "首页上的资源" in body
    assert 'href="/resources/"' in body


def test_api_resource_list_and_question_resources(client):
    question = make_question()
    resource = make_resource(title="API 资源", questions=[question])
    data = client.get("/api/resources/?type=pdf").json()
    assert data["count"] == 1
    item = data["results"][0]
    assert set(item) == {"id", "title", "type", "size", "downloads", "url", "download_url"}
    assert item["type"] == "pdf" and item["size"] == len(PDF_BYTES)
    assert item["download_url"].endswith(resource.get_download_url())
    detail = client.get(f"/api/questions/{question.pk}/").json()
    assert [r["id"] for r in detail["resources"]] == [resource.pk]
    assert client.get(f"/api/resources/{resource.pk}/").json()["title"] == "API 资源"
    assert client.get("/api/resources/999999/").status_code == 404


def _queries(client, url) -> int:
    client.cookies.clear()  # each measurement is a first visit (a counted view)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


@pytest.mark.parametrize("page", ["list", "detail", "question", "home", "api"])
def test_resource_pages_use_a_constant_number_of_queries(client, page, django_assert_num_queries):
    question = make_question()
    resource = make_resource(questions=[question])

    def url():
        return {
            "list": "/resources/",
            "detail": resource.get_absolute_url(),
            "question": question.get_absolute_url(),
            "home": "/",
            "api": f"/api/questions/{question.pk}/",
        }[page]

    few = _queries(client, url())
    for _ in range(6):
        extra = make_resource()
        Recommendation.objects.create(question=question, resource=extra, position=5)
        Recommendation.objects.create(question=make_question(), resource=resource)
    client.cookies.clear()
    with django_assert_num_queries(few):
        client.get(url())


def test_sitemap_lists_published_resources(client):
    shown = make_resource(title="公开资源")
    hidden = make_resource(title="隐藏资源", is_published=False)
    body = " ".join(sitemap_locations(client))
    assert shown.get_absolute_url() in body
    assert hidden.get_absolute_url() not in body
