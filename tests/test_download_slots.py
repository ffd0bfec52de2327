"""Streamed downloads take at most ZHIKU_MAX_DOWNLOADS_PER_WORKER threads of a process;
nginx (X-Accel-Redirect) and S3 (presigned redirect) downloads take none."""

import http.client
import json
import time
import urllib.parse
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections

from resources.models import Resource
from tests.conftest import make_resource

pytestmark = pytest.mark.django_db

CONTENT = b"%PDF-1.7\n" + bytes(range(256)) * 40
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def downloads_of(resource) -> int:
    return Resource.objects.values_list("downloads", flat=True).get(pk=resource.pk)


def hang_up(response):
    """What a WSGI server does when a client goes away part way: close the response.

    (Without the end-of-request signal, which would close the test's database connection.)
    """
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


@pytest.fixture
def one_slot(settings):
    settings.ZHIKU_MAX_DOWNLOADS_PER_WORKER = 1
    settings.ZHIKU_RATELIMIT = False


def test_a_download_over_the_cap_gets_503_and_is_not_counted(client, one_slot):
    resource = make_resource(content=CONTENT)
    url = resource.get_download_url()
    running = client.get(url, HTTP_USER_AGENT=BROWSER)  # streamed, not yet read: holds the slot
    assert running.status_code == 200

    refused = client.get(url, HTTP_USER_AGENT=BROWSER)
    assert refused.status_code == 503
    assert int(refused["Retry-After"]) > 0
    assert refused["Cache-Control"] == "no-store"
    assert "text/html" in refused["Content-Type"]
    assert "try again" in refused.content.decode()
    assert downloads_of(resource) == 1

    assert b"".join(running.streaming_content) == CONTENT  # finishing gives the slot back
    assert client.get(url, HTTP_USER_AGENT=BROWSER).status_code == 200
    assert downloads_of(resource) == 2


def test_a_range_transfer_holds_a_slot_too_and_closing_it_frees_the_slot(client, one_slot):
    resource = make_resource(content=CONTENT)
    url = resource.get_download_url()
    partial = client.get(url, HTTP_RANGE="bytes=100-")
    assert partial.status_code == 206
    assert client.get(url).status_code == 503
    hang_up(partial)
    assert client.get(url, HTTP_RANGE="bytes=100-").status_code == 206


def test_head_and_refused_ranges_take_no_slot(client, one_slot):
    resource = make_resource(content=CONTENT)
    url = resource.get_download_url()
    running = client.get(url)
    assert client.head(url).status_code == 200
    assert client.get(url, HTTP_RANGE=f"bytes={len(CONTENT)}-").status_code == 416
    hang_up(running)


def test_api_clients_get_the_refusal_as_json(client, one_slot):
    resource = make_resource(content=CONTENT)
    url = resource.get_download_url()
    running = client.get(url)
    refused = client.get(url, HTTP_ACCEPT="application/json")
    assert refused.status_code == 503
    assert "try again" in json.loads(refused.content)["error"]
    hang_up(running)


@pytest.mark.django_db(transaction=True)
def test_a_client_that_hangs_up_gives_its_slot_back(live_server, settings, media_root):
    """Over a real socket: the server closes the response when the client goes away."""
    settings.ZHIKU_MAX_DOWNLOADS_PER_WORKER = 1
    settings.ZHIKU_RATELIMIT = False
    big = bytes(range(256)) * (64 * 1024)  # 16 MiB: more than the socket buffers hold
    resource = make_resource(content=big, filename="大文件.zip")
    host, port = urlsplit(live_server.url).netloc.split(":")
    path = resource.get_download_url()

    def status_of_a_fresh_download() -> int:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", path, headers={"User-Agent": BROWSER})
        status = conn.getresponse().status
        conn.close()
        return status

    slow = http.client.HTTPConnection(host, int(port), timeout=30)
    slow.request("GET", path, headers={"User-Agent": BROWSER})
    response = slow.getresponse()
    assert response.status == 200
    assert response.read(64 * 1024) == big[: 64 * 1024]
    assert status_of_a_fresh_download() == 503

    slow.close()
    # The server notices on its next write; give it a bounded number of tries.
    statuses = []
    for _ in range(200):
        statuses.append(status_of_a_fresh_download())
        if statuses[-1] == 200:
            break
    assert statuses[-1] == 200


def test_behind_nginx_django_counts_and_hands_the_file_over(client, settings):
    settings.ZHIKU_ACCEL_REDIRECT = "/protected-media/"
    settings.ZHIKU_MAX_DOWNLOADS_PER_WORKER = 1
    resource = make_resource(content=CONTENT, filename="机器学习 笔记.pdf")
    url = resource.get_download_url()
    responses = [client.get(url, HTTP_USER_AGENT=BROWSER) for _ in range(3)]  # no slot needed
    for response in responses:
        assert response.status_code == 200
        assert response["X-Accel-Redirect"] == "/protected-media/" + resource.file.name
        assert response.content == b""
        assert response["Content-Type"] == "application/pdf"
        assert "filename*=UTF-8''%E6%9C%BA%E5%99%A8" in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["ETag"] == f'"{resource.sha256}"'
        assert "Accept-Ranges" not in response  # nginx answers ranges and says so
    assert downloads_of(resource) == 3


def test_behind_nginx_a_resumed_download_is_handed_over_but_not_counted(client, settings):
    settings.ZHIKU_ACCEL_REDIRECT = "/protected-media/"
    resource = make_resource(content=CONTENT)
    url = resource.get_download_url()
    resumed = client.get(url, HTTP_RANGE="bytes=100-", HTTP_USER_AGENT=BROWSER)
    assert resumed.status_code == 200  # nginx turns it into the 206
    assert resumed["X-Accel-Redirect"]
    assert downloads_of(resource) == 0
    stale = client.get(url, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"old"', HTTP_USER_AGENT=BROWSER)
    assert stale["X-Accel-Redirect"]
    assert downloads_of(resource) == 1  # nginx sends all of it: a new download


def test_on_s3_a_download_is_counted_then_redirected_to_a_presigned_url(client, settings, monkeypatch):
    resource = make_resource(content=CONTENT, filename="深度学习.pdf")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "zhiku-media",
                "endpoint_url": "http://127.0.0.1:9",
                "region_name": "us-east-1",
                "location": "media",
                "default_acl": "private",
                "querystring_auth": True,
            },
        },
    }
    settings.ZHIKU_PRESIGNED_DOWNLOADS = True
    settings.ZHIKU_MAX_DOWNLOADS_PER_WORKER = 1
    from storages.backends.s3 import S3Storage

    monkeypatch.setattr(S3Storage, "exists", lambda self, name: True)  # no bucket to ask
    resource = Resource.objects.get(pk=resource.pk)
    responses = [client.get(resource.get_download_url(), HTTP_USER_AGENT=BROWSER) for _ in range(2)]

    assert [r.status_code for r in responses] == [302, 302]
    location = urlsplit(responses[0]["Location"])
    query = parse_qs(location.query)
    assert location.path == f"/zhiku-media/media/{resource.file.name}"
    assert query["Signature"]
    assert 0 < int(query["Expires"][0]) - time.time() <= settings.ZHIKU_PRESIGNED_SECONDS
    assert query["response-content-type"] == ["application/pdf"]
    disposition = query["response-content-disposition"][0]
    assert "filename*=UTF-8''" + urllib.parse.quote("深度学习.pdf") in disposition
    assert responses[0]["Cache-Control"] == "no-store"
    assert downloads_of(resource) == 2
