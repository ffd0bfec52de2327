"""Downloads: bytes, names, counting, HTTP ranges (SPEC §5, §7)."""

import concurrent.futures
import hashlib
import os
import urllib.request

import pytest

from resources.downloads import (
    ByteRange,
    RangeNotSatisfiable,
    ascii_fallback,
    attachment_header,
    parse_range,
)
from resources.models import Resource
from tests.conftest import make_resource

pytestmark = pytest.mark.django_db

CONTENT = b"%PDF-1.7\n" + bytes(range(256)) * 40  # 10 KiB with every byte value
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def downloads_of(resource) -> int:
    return Resource.objects.values_list("downloads", flat=True).get(pk=resource.pk)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- Pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("BYTES = 5 - 9", ByteRange(5, 9)),
    ],
)
def test_parse_range_accepts_single_byte_ranges(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header", [None, "", "items=0-1", "bytes=5-1", "bytes=0-1,5-9", "bytes=-", "bytes=a-b"]
)
def test_parse_range_ignores_what_it_does_not_understand(header):
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize(("header", "size"), [("bytes=1000-", 1000), ("bytes=-0", 1000), ("bytes=0-", 0)])
def test_parse_range_rejects_ranges_outside_the_file(header, size):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


def test_attachment_header_keeps_chinese_names_with_an_ascii_fallback():
    header = attachment_header("机器学习 笔记.pdf")
    assert header == (
        'attachment; filename="download.pdf"; '
        "filename*=UTF-8''%E6%9C%BA%E5%99%A8%E5%AD%A6%E4%B9%A0%20%E7%AC%94%E8%AE%B0.pdf"
    )


def test_attachment_header_cannot_be_broken_by_quotes_or_newlines():
    header = attachment_header('evil"\r\nSet-Cookie: x=1.pdf')
    assert "\r" not in header and "\n" not in header
    assert header.count('"') == 2


def test_ascii_fallback_keeps_readable_parts():
    assert ascii_fallback("résumé v2.docx") == "resume v2.docx"
    assert ascii_fallback("反色") == "download"


def test_ascii_fallback_drops_separators_left_by_chinese_parts():
    """The image tool names results "<name>-inverted.png"; a Chinese-only name left "-inverted.png"."""
    assert ascii_fallback("灰度-inverted.png") == "inverted.png"
    assert ascii_fallback("图_1.jpg") == "1.jpg"


def test_ascii_fallback_is_a_word_when_only_punctuation_would_remain():
    """The name "中文 文件名（测试）.pdf" used to fall back to "().pdf"."""
    assert ascii_fallback("中文 文件名（测试）.pdf") == "download.pdf"
    assert ascii_fallback("【笔记】——.md") == "download.md"
    assert ascii_fallback("图 (1).jpg") == "(1).jpg"


# --- The download view ----------------------------------------------------------------------


def test_download_sends_the_uploaded_bytes_as_a_named_attachment(client):
    resource = make_resource(content=CONTENT, filename="深度学习 讲义.pdf")
    response = client.get(resource.get_download_url(), HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200
    data = body_of(response)
    assert data == CONTENT
    assert hashlib.sha256(data).hexdigest() == resource.sha256
    assert response["Content-Length"] == str(len(CONTENT))
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="download.pdf"; ')
    assert "filename*=UTF-8''%E6%B7%B1%E5%BA%A6%E5%AD%A6%E4%B9%A0%20%E8%AE%B2%E4%B9%89.pdf" in disposition
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Accept-Ranges"] == "bytes"
    assert downloads_of(resource) == 1


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("page.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("notes.md", b"# hi"),
        ("x.jsp", b"<% out.print(1); %>"),
    ],
)
def test_user_files_are_never_served_as_html(client, filename, content):
    resource = make_resource(content=content, filename=filename)
    response = client.get(resource.get_download_url())
    assert "html" not in response["Content-Type"]
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]


def test_each_get_counts_one_download_without_session_dedup(client):
    resource = make_resource(content=CONTENT)
    for _ in range(3):
        body_of(client.get(resource.get_download_url(), HTTP_USER_AGENT=BROWSER))
    assert downloads_of(resource) == 3


@pytest.mark.parametrize("agent", ["Googlebot/2.1", "Baiduspider", "SomeCrawler 1.0", "Yahoo! Slurp"])
def test_bots_are_served_but_not_counted(client, agent):
    resource = make_resource(content=CONTENT)
    response = client.get(resource.get_download_url(), HTTP_USER_AGENT=agent)
    assert response.status_code == 200 and body_of(response) == CONTENT
    assert downloads_of(resource) == 0


def test_head_is_answered_without_a_body_and_not_counted(client):
    resource = make_resource(content=CONTENT)
    response = client.head(resource.get_download_url(), HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(CONTENT))
    assert body_of(response) == b""
    assert downloads_of(resource) == 0


def test_range_request_gets_206_with_the_right_bytes(client):
    resource = make_resource(content=CONTENT)
    response = client.get(resource.get_download_url(), HTTP_RANGE="bytes=100-1123")
    assert response.status_code == 206
    assert body_of(response) == CONTENT[100:1124]
    assert response["Content-Range"] == f"bytes 100-1123/{len(CONTENT)}"
    assert response["Content-Length"] == "1024"
    assert response["Content-Disposition"].startswith("attachment;")


def test_suffix_range_returns_the_end_of_the_file(client):
    resource = make_resource(content=CONTENT)
    response = client.get(resource.get_download_url(), HTTP_RANGE="bytes=-10")
    assert response.status_code == 206
    assert body_of(response) == CONTENT[-10:]


def test_resumed_download_is_not_counted_but_a_range_from_zero_is(client):
    resource = make_resource(content=CONTENT)
    body_of(client.get(resource.get_download_url(), HTTP_RANGE="bytes=0-99", HTTP_USER_AGENT=BROWSER))
    assert downloads_of(resource) == 1
    body_of(client.get(resource.get_download_url(), HTTP_RANGE="bytes=100-", HTTP_USER_AGENT=BROWSER))
    assert downloads_of(resource) == 1


def test_resumed_pieces_reassemble_the_whole_file(client):
    resource = make_resource(content=CONTENT)
    url = resource.get_download_url()
    first = body_of(client.get(url, HTTP_RANGE="bytes=0-4095"))
    rest = body_of(client.get(url, HTTP_RANGE="bytes=4096-"))
    assert first + rest == CONTENT


def test_unsatisfiable_range_gets_416_and_is_not_counted(client):
    resource = make_resource(content=CONTENT)
    response = client.get(resource.get_download_url(), HTTP_RANGE=f"bytes={len(CONTENT)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(CONTENT)}"
    assert downloads_of(resource) == 0


def test_stale_if_range_sends_the_whole_file(client):
    resource = make_resource(content=CONTENT)
    url = resource.get_download_url()
    fresh = client.get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=f'"{resource.sha256}"')
    assert fresh.status_code == 206
    stale = client.get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE='"something-else"')
    assert stale.status_code == 200 and body_of(stale) == CONTENT


def test_post_is_not_allowed(client):
    resource = make_resource(content=CONTENT)
    assert client.post(resource.get_download_url()).status_code == 405
    assert downloads_of(resource) == 0


def test_missing_file_gives_404_not_500(client):
    resource = make_resource(content=CONTENT)
    os.remove(resource.file.storage.path(resource.file.name))
    assert client.get(resource.get_download_url()).status_code == 404


def test_too_many_downloads_get_429_and_are_not_counted(client, settings):
    settings.ZHIKU_RATELIMITS = {**settings.ZHIKU_RATELIMITS, "download": (2, 60)}
    resource = make_resource(content=CONTENT)
    statuses = [
        client.get(resource.get_download_url(), HTTP_USER_AGENT=BROWSER).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert downloads_of(resource) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_downloads_are_all_counted(live_server, settings):
    settings.ZHIKU_RATELIMIT = False
    resource = make_resource(content=CONTENT)
    url = live_server.url + resource.get_download_url()

    def fetch(_):
        request = urllib.request.Request(url, headers={"User-Agent": BROWSER})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read()

    with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
        bodies = list(pool.map(fetch, range(30)))
    assert all(body == CONTENT for body in bodies)
    assert downloads_of(resource) == 30
