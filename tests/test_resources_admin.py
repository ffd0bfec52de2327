"""Uploading resources in the admin: allowlist, size limit, content checks, both-sided links."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from resources.forms import content_matches_type
from resources.models import Recommendation, Resource
from tests.conftest import PDF_BYTES, make_question, make_resource

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/resources/resource/add/"


def form_data(upload, **overrides):
    data = {
        "title": "上传的资源",
        "slug": "",
        "key": "",
        "description": "一段**说明**",
        "is_published": "on",
        "created_0": "2024-08-27",
        "created_1": "22:04:20",
        "file": upload,
        "recommendations-TOTAL_FORMS": "0",
        "recommendations-INITIAL_FORMS": "0",
        "recommendations-MIN_NUM_FORMS": "0",
        "recommendations-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "你好")
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "PNG")
    return buffer.getvalue()


def file_error(response):
    """The (code, message) of the file field's first error on a re-shown admin form."""
    error = response.context["adminform"].form.errors.as_data()["file"][0]
    return error.code, error.messages[0]


def test_admin_upload_stores_the_file_and_its_facts(admin_client):
    question = make_question(title="推荐它的问题")
    data = form_data(
        SimpleUploadedFile("数据结构.pdf", PDF_BYTES),
        **{
            "recommendations-TOTAL_FORMS": "1",
            "recommendations-0-question": str(question.pk),
            "recommendations-0-position": "0",
        },
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    resource = Resource.objects.get()
    assert (resource.original_name, resource.file_type, resource.size) == (
        "数据结构.pdf",
        "pdf",
        len(PDF_BYTES),
    )
    with resource.file.open("rb") as fh:
        assert fh.read() == PDF_BYTES
    assert list(resource.questions.all()) == [question]


@pytest.mark.parametrize("filename", ["page.html", "script.js", "run.sh", "noextension", "x.php"])
def test_disallowed_extensions_are_refused_with_a_clear_error(admin_client, filename):
    response = admin_client.post(ADD_URL, form_data(SimpleUploadedFile(filename, b"<script>1</script>")))
    assert response.status_code == 200
    code, message = file_error(response)
    assert code == "extension"
    assert "pdf, zip" in message  # names what is allowed
    assert not Resource.objects.exists()


def test_a_file_without_extension_is_refused_in_plain_words(admin_client):
    """The message used to read “.?” where the type belongs."""
    response = admin_client.post(
        ADD_URL, form_data(SimpleUploadedFile("README", b"text")), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    code, message = file_error(response)
    assert code == "extension"
    assert message.startswith("文件名没有扩展名")
    assert "?" not in message


def test_oversize_upload_is_refused(admin_client, settings):
    settings.ZHIKU_UPLOAD_MAX_BYTES = 1024
    response = admin_client.post(ADD_URL, form_data(SimpleUploadedFile("big.pdf", PDF_BYTES + b"0" * 2000)))
    assert response.status_code == 200
    code, message = file_error(response)
    assert code == "size"
    assert "1.0\xa0KB" in message  # names the limit
    assert not Resource.objects.exists()


def test_upload_limit_defaults_to_100_mib(settings):
    assert settings.ZHIKU_UPLOAD_MAX_BYTES == 100 * 1024 * 1024


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("fake.pdf", b"MZ not a pdf"),
        ("fake.docx", PDF_BYTES),
        ("fake.png", b"GIF89a...."),
        ("fake.exe", b"%PDF-"),
    ],
)
def test_content_that_does_not_match_the_extension_is_refused(admin_client, filename, content):
    response = admin_client.post(ADD_URL, form_data(SimpleUploadedFile(filename, content)))
    assert response.status_code == 200
    assert file_error(response)[0] == "content"
    assert not Resource.objects.exists()


@pytest.mark.parametrize(
    ("file_type", "content"),
    [
        ("zip", zip_bytes()),
        ("docx", zip_bytes()),
        ("png", png_bytes()),
        ("pdf", PDF_BYTES),
        ("txt", b"anything"),
    ],
)
def test_content_check_accepts_real_files(file_type, content):
    assert content_matches_type(io.BytesIO(content), file_type)


def test_replacing_the_file_in_the_admin_updates_facts(admin_client, django_capture_on_commit_callbacks):
    resource = make_resource(content=PDF_BYTES, filename="旧版.pdf")
    old_name = resource.file.name
    payload = zip_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/resources/resource/{resource.pk}/change/",
            form_data(SimpleUploadedFile("新版.zip", payload), title=resource.title, slug=resource.slug),
        )
    assert response.status_code == 302
    resource.refresh_from_db()
    assert (resource.original_name, resource.file_type, resource.size) == ("新版.zip", "zip", len(payload))
    assert not resource.file.storage.exists(old_name)


def test_editing_without_a_new_file_keeps_it(admin_client):
    resource = make_resource(content=PDF_BYTES)
    response = admin_client.post(
        f"/admin/resources/resource/{resource.pk}/change/",
        form_data("", title="新标题", slug=resource.slug),
    )
    assert response.status_code == 302
    resource.refresh_from_db()
    assert resource.title == "新标题" and resource.size == len(PDF_BYTES)
    assert resource.file.storage.exists(resource.file.name)


def test_question_admin_edits_recommended_resources(admin_client):
    question = make_question()
    resource = make_resource()
    Recommendation.objects.create(question=question, resource=resource)
    response = admin_client.get(f"/admin/qa/question/{question.pk}/change/")
    assert response.status_code == 200
    assert "recommendations-0-resource" in response.content.decode()


def test_admin_resource_pages_render(admin_client):
    resource = make_resource()
    assert admin_client.get("/admin/resources/resource/").status_code == 200
    assert admin_client.get(f"/admin/resources/resource/{resource.pk}/change/").status_code == 200
    assert admin_client.get(ADD_URL).status_code == 200


def test_deleting_in_the_admin_removes_the_file(admin_client, django_capture_on_commit_callbacks):
    resource = make_resource()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/resources/resource/{resource.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Resource.objects.exists()
    assert not resource.file.storage.exists(resource.file.name)
