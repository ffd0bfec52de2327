"""The image tool over HTTP (/tools/invert/ and /api/tools/invert/) and its management command."""

import base64
import io
import os
import random
import re
from urllib.parse import unquote

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from PIL import Image

from tests.conftest import make_question
from tests.test_imaging import decode, encode, gif_with_frames, noise, pixels, png_bomb, png_with_size

pytestmark = pytest.mark.django_db

PAGE = "/tools/invert/"
API = "/api/tools/invert/"


def upload(data: bytes, name: str = "photo.png") -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def png(image=None) -> bytes:
    return encode(image or noise("RGB"), "PNG")


@pytest.fixture
def uploads_dir(settings, tmp_path):
    """Where Django would spill large uploads; the tool must never put anything there."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path


def test_routes_are_named():
    assert reverse("resources:invert") == PAGE
    assert reverse("api:invert") == API


# --- the API ----------------------------------------------------------------------------------------


def test_api_answers_the_inverted_image_as_an_attachment(client):
    source = noise("RGB")
    response = client.post(API, {"image": upload(png(source)), "mode": "color"})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''photo-inverted.png" in response["Content-Disposition"]
    assert pixels(decode(response.content)) == [tuple(255 - c for c in p) for p in pixels(source)]


def test_api_default_mode_is_gray(client):
    source = noise("RGB")
    response = client.post(API, {"image": upload(png(source))})
    assert response.status_code == 200
    assert pixels(decode(response.content)) == [255 - v for v in pixels(source.convert("L"))]


def test_api_keeps_the_format_and_names_a_chinese_file(client):
    data = encode(noise("RGB", size=(32, 32)), "JPEG")
    response = client.post(API, {"image": upload(data, "我的 照片.jpeg"), "mode": "gray"})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    encoded = re.search(r"filename\*=UTF-8''([^;]+)", response["Content-Disposition"]).group(1)
    assert unquote(encoded) == "我的 照片-inverted.jpg"


def test_api_sends_no_cacheable_copy_of_the_image(client):
    response = client.post(API, {"image": upload(png())})
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_api_needs_no_csrf_token_because_it_changes_nothing():
    response = Client(enforce_csrf_checks=True).post(API, {"image": upload(png())})
    assert response.status_code == 200


def test_api_get_is_a_json_405(client):
    response = client.get(API)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "error" in response.json()


BAD_INPUTS = [
    ("missing file", None, 400),
    ("empty", b"", 400),
    ("text", b"hello, I am not a picture", 400),
    ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"></svg>', 400),
    ("html", b"<!DOCTYPE html><html><script>alert(1)</script></html>", 400),
    ("pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", 400),
    ("truncated png", png(noise("RGB", size=(64, 64)))[:300], 400),
    ("truncated jpeg", encode(noise("RGB", size=(64, 64)), "JPEG")[:400], 400),
    ("48 megapixels in the header", png_with_size(8000, 6000), 413),
    ("decompression bomb", png_bomb(12000, 12000), 413),
    ("too many frames", gif_with_frames(1005), 413),
]


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")  # as imaging does in a call
@pytest.mark.parametrize(("label", "data", "status"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_api_refuses_bad_input_with_json_error(client, label, data, status):
    fields = {"mode": "gray"}
    if data is not None:
        fields["image"] = upload(data, "x.png")
    response = client.post(API, fields)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


def test_api_refuses_unknown_mode(client):
    response = client.post(API, {"image": upload(png()), "mode": "sepia"})
    assert response.status_code == 400
    assert "sepia" in response.json()["error"]


def test_api_refuses_a_file_just_over_ten_mebibytes(client, uploads_dir):
    data = png() + bytes(10 * 1024 * 1024)
    response = client.post(API, {"image": upload(data)})
    assert response.status_code == 413
    assert "10 MiB" in response.json()["error"]
    assert list(uploads_dir.iterdir()) == []


def test_api_refuses_a_50_mib_post_without_reading_its_body(client):
    # The body is tiny, the announced length is 50 MiB: reading the body would fail
    # with the test client's "cannot read more than the available bytes".
    response = client.generic(
        "POST",
        API,
        b"--x--\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 2**20),
    )
    assert response.status_code == 413
    assert "10 MiB" in response.json()["error"]


def test_api_refuses_a_real_50_mib_upload(client, uploads_dir):
    response = client.post(API, {"image": upload(bytes(50 * 2**20))})
    assert response.status_code == 413
    assert list(uploads_dir.iterdir()) == []


def test_upload_above_djangos_memory_threshold_stays_in_memory(client, settings, uploads_dir):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    source = noise("RGB", size=(400, 300))
    data = png(source)
    assert len(data) > 100 * 1024
    response = client.post(API, {"image": upload(data), "mode": "color"})
    assert response.status_code == 200
    assert list(uploads_dir.iterdir()) == []


def test_api_refuses_a_form_that_is_not_multipart(client):
    response = client.post(API, "image=abc", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["error"]


def test_api_survives_random_bytes(client, settings):
    settings.ZHIKU_RATELIMIT = False
    rng = random.Random(99)
    seeds = [png(), encode(noise("RGB"), "GIF"), encode(noise("RGB", size=(32, 32)), "JPEG")]
    for index in range(30):
        seed = bytearray(rng.choice(seeds))
        if index % 3 == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        elif index % 3 == 1:
            data = bytes(seed[: rng.randrange(1, len(seed))])
        else:
            for _ in range(5):
                seed[rng.randrange(len(seed))] = rng.randrange(256)
            data = bytes(seed)
        response = client.post(
            API, {"image": upload(data, "fuzz.bin"), "mode": rng.choice(["gray", "color"])}
        )
        assert response.status_code in (200, 400, 413, 415)
        if response.status_code != 200:
            assert response.json()["error"]


def test_api_is_rate_limited_per_client(client, settings):
    settings.ZHIKU_RATELIMIT = True
    settings.ZHIKU_RATELIMITS = {"invert": (2, 60)}
    for _ in range(2):
        assert client.post(API, {"image": upload(png())}).status_code == 200
    response = client.post(API, {"image": upload(png())})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many requests" in response.json()["error"] or "请求过于频繁" in response.json()["error"]
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert other.post(API, {"image": upload(png())}).status_code == 200


# --- the page ---------------------------------------------------------------------------------------


def test_page_shows_a_csrf_protected_upload_form_without_inline_script(client):
    response = client.get(PAGE)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert 'name="image"' in body and 'value="gray"' in body and 'value="color"' in body
    assert "js/invert.js" in body
    for script in re.findall(r"<script[^>]*>", body):
        assert "src=" in script or "application/ld+json" in script


def test_page_post_without_csrf_token_is_forbidden():
    response = Client(enforce_csrf_checks=True).post(PAGE, {"image": upload(png())})
    assert response.status_code == 403


def test_page_post_shows_original_and_result_with_a_download_link():
    browser = Client(enforce_csrf_checks=True)
    token = browser.get(PAGE).cookies["csrftoken"].value
    source = noise("RGB")
    response = browser.post(
        PAGE, {"image": upload(png(source)), "mode": "color", "csrfmiddlewaretoken": token}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'download="photo-inverted.png"' in body
    urls = re.findall(r'src="data:image/png;base64,([^"]+)"', body)
    assert len(urls) == 2  # the original beside the result
    result = decode(base64.b64decode(urls[1]))
    assert pixels(result) == [tuple(255 - c for c in p) for p in pixels(source)]
    assert (
        'value="color" checked' in body
        or 'checked value="color"' in body
        or re.search(r'value="color"[^>]*checked', body)
    )


def test_page_reshows_the_form_with_the_message_on_bad_input(client):
    response = client.post(PAGE, {"image": upload(b"%PDF-1.4 not an image", "doc.pdf")})
    body = response.content.decode()
    assert response.status_code == 400
    assert "PDF" in body
    assert 'role="alert"' in body
    assert 'name="image"' in body


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-hans", "不支持 PDF 文档。请上传 PNG、JPEG、GIF、WebP、BMP 或 TIFF 图片。"),
        ("en", "PDF documents are not supported. Upload a PNG, JPEG, GIF, WebP, BMP or TIFF image."),
    ],
)
def test_page_explains_a_refused_image_in_the_visitors_language(client, language, expected):
    response = client.post(
        PAGE, {"image": upload(b"%PDF-1.4 not an image", "doc.pdf")}, HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 400
    assert expected in response.content.decode()


def test_api_errors_from_the_imaging_code_are_translated_too(client):
    data = png(noise("RGB", size=(64, 64)))[:300]
    response = client.post(API, {"image": upload(data)}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.json() == {"error": "图片已损坏或不完整，无法读取。"}
    response = client.post(API, {"image": upload(b"")}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.json() == {"error": "The file is empty."}


def test_page_reshows_the_form_for_an_oversized_post(client):
    response = client.generic(
        "POST",
        PAGE,
        b"--x--\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 2**20),
    )
    assert response.status_code == 413
    assert 'name="image"' in response.content.decode()


def test_page_reshows_the_form_when_rate_limited(client, settings):
    settings.ZHIKU_RATELIMIT = True
    settings.ZHIKU_RATELIMITS = {"invert": (1, 60)}
    assert client.post(PAGE, {"image": upload(png())}).status_code == 200
    response = client.post(PAGE, {"image": upload(png())})
    assert response.status_code == 429
    assert response["Retry-After"]
    assert 'name="image"' in response.content.decode()
    # Looking at the page is not limited, only using the tool.
    assert client.get(PAGE).status_code == 200


def test_header_links_to_the_tool(client):
    assert f'href="{PAGE}"' in client.get("/").content.decode()


@pytest.mark.parametrize("tag", ["图像处理", "image-processing"])
def test_image_processing_questions_link_to_the_tool(client, tag):
    question = make_question(title="如何反色一张图片", tags=[tag, "python"])
    body = client.get(question.get_absolute_url()).content.decode()
    assert body.count('class="tool-callout"') == 1
    assert f'<a href="{PAGE}">' in body


def test_other_questions_do_not_link_to_the_tool_in_their_content(client):
    question = make_question(title="Django 的 ORM", tags=["django"])
    assert "tool-callout" not in client.get(question.get_absolute_url()).content.decode()


# --- the management command ------------------------------------------------------------------------


def test_command_inverts_a_file_with_the_same_function(tmp_path):
    source = noise("RGB")
    (tmp_path / "in.png").write_bytes(png(source))
    out = io.StringIO()
    call_command(
        "invert_image", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--mode", "color", stdout=out
    )
    assert "PNG" in out.getvalue()
    assert pixels(decode((tmp_path / "out.png").read_bytes())) == [
        tuple(255 - c for c in p) for p in pixels(source)
    ]


def test_command_reports_bad_input_and_missing_files(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"<svg/>")
    with pytest.raises(CommandError, match="SVG"):
        call_command("invert_image", str(tmp_path / "bad.png"), str(tmp_path / "out.png"))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("invert_image", str(tmp_path / "missing.png"), str(tmp_path / "out.png"))
    assert not os.path.exists(tmp_path / "out.png")


def test_command_refuses_an_unknown_mode(tmp_path):
    Image.new("L", (2, 2)).save(tmp_path / "in.png")
    with pytest.raises(CommandError):
        call_command("invert_image", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--mode", "sepia")
