"""nginx 1.22 in front of gunicorn, as docs/deploy.md sets it up (config/nginx/).

Run by .ci/nginx.sh (``pytest -m nginx``), not by ``make test``: it needs the
nginx binary. One nginx and one gunicorn serve the whole module, on loopback,
on the test database.
"""

import gzip
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from bench.server import Gunicorn, bench_environment, free_port
from config.nginx import Nginx, nginx_binary, wait_for
from resources.models import Resource
from tests.conftest import ROOT, run_django

pytestmark = [pytest.mark.nginx, pytest.mark.django_db(transaction=True)]

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class Stack:
    port: int  # nginx
    app: Gunicorn
    env: dict
    media: Path
    prefix: Path


def app_environment(tmp: Path) -> dict:
    """The benchmarks' environment on the test database, with rate limits on."""
    from django.db import connection

    env = bench_environment(tmp, f"sqlite:///{connection.settings_dict['NAME']}")
    env.update(
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="4",
        ZHIKU_RATELIMIT="on",
        ZHIKU_TRUSTED_PROXIES="1",
        ZHIKU_RATELIMIT_SEARCH="3/m",
        ZHIKU_RATELIMIT_DOWNLOAD="1000/m",
    )
    env.pop("ZHIKU_MAX_DOWNLOADS_PER_WORKER", None)
    return env


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    if connection_vendor(django_db_blocker) != "sqlite":
        pytest.skip("the nginx suite shares the SQLite test database with gunicorn")
    nginx_binary()
    tmp = tmp_path_factory.mktemp("nginx")
    env = {**app_environment(tmp), "ZHIKU_ACCEL_REDIRECT": "/protected-media/"}
    collected = run_django("", env=env, args=("collectstatic", "--noinput", "--verbosity", "0"))
    assert collected.returncode == 0, collected.stderr
    app = Gunicorn(env, log_path=tmp / "gunicorn.log")
    port = free_port()
    prefix = tmp / "prefix"
    rendered = subprocess.run(
        [sys.executable, "-m", "config.nginx", "render", str(prefix), "--listen", f"127.0.0.1:{port}",
         "--upstream", f"127.0.0.1:{app.port}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    with app, Nginx(prefix / "nginx.conf") as nginx:
        wait_for(port, procs=[nginx.proc])
        yield Stack(port=port, app=app, env=env, media=tmp / "media", prefix=prefix)


def connection_vendor(blocker) -> str:
    from django.db import connection

    with blocker.unblock():
        return connection.vendor


@pytest.fixture
def media(stack, settings):
    settings.MEDIA_ROOT = stack.media
    return stack.media


def make_resource(content: bytes, filename: str) -> Resource:
    return Resource.objects.create(title=f"资源 {filename}", file=ContentFile(content, name=filename))


def downloads_of(resource) -> int:
    return Resource.objects.values_list("downloads", flat=True).get(pk=resource.pk)


def request(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"User-Agent": BROWSER, **(headers or {})})
        response = conn.getresponse()
        headers = {}
        for name, value in response.getheaders():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return response.status, headers, response.read()
    finally:
        conn.close()


CONTENT = b"%PDF-1.7\n" + os.urandom(300 * 1024)


# --- downloads ---------------------------------------------------------------------------------


def test_a_download_through_nginx_is_counted_with_django_headers(stack, media):
    resource = make_resource(CONTENT, "机器学习 讲义（第2版）.pdf")
    status, headers, body = request(stack.port, "GET", resource.get_download_url())
    assert status == 200
    assert body == CONTENT
    assert headers["content-length"] == str(len(CONTENT))
    assert headers["content-type"] == "application/pdf"
    quoted = urllib.parse.quote("机器学习 讲义（第2版）.pdf")
    assert headers["content-disposition"] == f"attachment; filename=\"(2).pdf\"; filename*=UTF-8''{quoted}"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["etag"] == f'"{resource.sha256}"'
    assert headers["accept-ranges"] == "bytes"
    assert "x-accel-redirect" not in headers
    assert "last-modified" not in headers
    assert "content-encoding" not in headers
    assert downloads_of(resource) == 1


def test_ranges_through_nginx_resume_without_counting_again(stack, media):
    resource = make_resource(CONTENT, "notes.pdf")
    url = resource.get_download_url()
    status, headers, first = request(stack.port, "GET", url, {"Range": "bytes=0-99999"})
    assert status == 206 and first == CONTENT[:100000]
    assert headers["content-range"] == f"bytes 0-99999/{len(CONTENT)}"
    assert downloads_of(resource) == 1  # a range from byte 0 is a new download

    etag = headers["etag"]
    status, headers, rest = request(stack.port, "GET", url, {"Range": "bytes=100000-", "If-Range": etag})
    assert status == 206 and first + rest == CONTENT
    assert downloads_of(resource) == 1  # the resumption is not

    status, _, whole = request(stack.port, "GET", url, {"Range": "bytes=100000-", "If-Range": '"stale"'})
    assert status == 200 and whole == CONTENT  # the file changed for this client: all of it, counted
    assert downloads_of(resource) == 2

    status, headers, _ = request(stack.port, "GET", url, {"Range": f"bytes={len(CONTENT)}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{len(CONTENT)}"
    status, headers, body = request(stack.port, "HEAD", url)
    assert status == 200 and body == b"" and headers["content-length"] == str(len(CONTENT))
    assert downloads_of(resource) == 2


def test_user_files_are_never_html_through_nginx(stack, media):
    resource = make_resource(
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "x.svg"
    )
    status, headers, _ = request(stack.port, "GET", resource.get_download_url())
    assert status == 200
    assert headers["content-type"] == "image/svg+xml"
    assert headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in headers["content-security-policy"]


def test_media_is_not_reachable_around_the_download_view(stack, media):
    resource = make_resource(CONTENT, "secret.pdf")
    for path in (f"/protected-media/{resource.file.name}", f"/media/{resource.file.name}"):
        status, _, body = request(stack.port, "GET", path)
        assert status == 404 and CONTENT[:100] not in body
    assert downloads_of(resource) == 0


# --- static files and compression ----------------------------------------------------------------


def hashed_css_path(stack) -> str:
    manifest = json.loads((Path(stack.env["DJANGO_STATIC_ROOT"]) / "staticfiles.json").read_text())
    return "/static/" + manifest["paths"]["css/site.css"]


def test_hashed_static_files_are_cached_for_a_year_and_gzipped(stack):
    path = hashed_css_path(stack)
    status, headers, body = request(stack.port, "GET", path, {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "text/css"
    assert "content-security-policy" in headers and headers["x-content-type-options"] == "nosniff"
    plain = (Path(stack.env["DJANGO_STATIC_ROOT"]) / path.removeprefix("/static/")).read_bytes()
    assert gzip.decompress(body) == plain


def test_unhashed_static_names_get_a_short_cache(stack):
    status, headers, _ = request(stack.port, "GET", "/static/css/site.css")
    assert status == 200
    assert headers["cache-control"] == "public, max-age=3600"


def test_pages_are_gzipped_and_keep_the_security_headers(stack):
    status, headers, body = request(stack.port, "GET", "/", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in headers["vary"]
    assert "知库" in gzip.decompress(body).decode()
    assert headers["x-frame-options"] == "DENY" and "content-security-policy" in headers


# --- request size limits -----------------------------------------------------------------------


def test_an_upload_over_the_limit_gets_the_sites_own_413_page(stack):
    body = b"x" * (12 * 1024 * 1024)
    headers = {"Content-Type": "multipart/form-data; boundary=zk"}
    status, headers, page = request(stack.port, "POST", "/tools/invert/", headers, body)
    assert status == 413
    assert headers["content-type"].startswith("text/html")
    text = page.decode()
    assert "知库" in text and re.search(r"/static/css/site\.[0-9a-f]{12}\.css", text)
    assert "10 MiB" in text
    assert "content-security-policy" in headers


def test_an_api_upload_over_the_limit_gets_json(stack):
    body = b"x" * (12 * 1024 * 1024)
    headers = {"Content-Type": "multipart/form-data; boundary=zk"}
    status, headers, answer = request(stack.port, "POST", "/api/tools/invert/", headers, body)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert "10 MiB" in json.loads(answer)["error"]


def test_an_upload_within_the_limit_reaches_django(stack):
    """Just under the bound nginx and Django share: Django reads it and explains what is wrong."""
    body = b"x" * (10 * 1024 * 1024 + 32 * 1024)
    headers = {"Content-Type": "multipart/form-data; boundary=zk"}
    status, headers, answer = request(stack.port, "POST", "/api/tools/invert/", headers, body)
    assert status == 400
    assert "x-request-id" in headers  # answered by Django, not by nginx
    assert json.loads(answer)["error"]


# --- proxy headers -----------------------------------------------------------------------------


def test_a_forged_forwarded_for_does_not_dodge_rate_limits(stack):
    """Seven "different" clients against 3 searches a minute in each of the 2 worker
    processes (local-memory counters): at least one is refused, because every one of
    them was 127.0.0.1, the address nginx appended. Trusted, the header would let all pass."""
    statuses = [
        request(stack.port, "GET", "/search/?q=python", {"X-Forwarded-For": f"198.51.100.{n}"})[0]
        for n in range(7)
    ]
    assert set(statuses) == {200, 429}
    assert statuses.count(200) <= 2 * 3


def test_the_client_address_nginx_appends_is_the_one_logged(stack, django_user_model):
    django_user_model.objects.create_user("editor", password="Correct-horse-42", is_staff=True)
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    conn.request("GET", "/admin/login/")
    response = conn.getresponse()
    page = response.read()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"username": "editor", "password": "not-it", "csrfmiddlewaretoken": token})
    conn.request(
        "POST",
        "/admin/login/",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
                 "X-Forwarded-For": "203.0.113.66", "Referer": f"http://127.0.0.1:{stack.port}/admin/login/"},
    )  # fmt: skip
    assert conn.getresponse().status == 200
    conn.close()
    lines = [
        json.loads(line) for line in stack.app.log_path.read_text().splitlines() if "zhiku.security" in line
    ]
    assert lines and lines[-1]["message"] == "admin login failed"
    assert lines[-1]["client"] == "127.0.0.1"  # nginx's entry, not the one the client wrote


def test_a_request_id_from_a_balancer_passes_through_and_one_is_made_otherwise(stack):
    _, headers, _ = request(stack.port, "GET", "/healthz", {"X-Request-ID": "lb-0123456789"})
    assert headers["x-request-id"] == "lb-0123456789"
    _, headers, _ = request(stack.port, "GET", "/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])


def test_readyz_through_nginx(stack):
    status, headers, body = request(stack.port, "GET", "/readyz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert "no-store" in headers["cache-control"]


# --- slow clients ------------------------------------------------------------------------------

SLOW_CLIENTS = 20
BIG_FILE_MB = 50
READ_CHUNK = 64 * 1024
READ_PAUSE = 0.2  # about 320 KiB/s per client, in few wake-ups so the clients cost little CPU
WINDOW = 6.0  # seconds of probing while the slow clients read


def slow_download(port: int, path: str, stop: threading.Event, outcome: list) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)  # so the server really waits
    sock.settimeout(30)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {BROWSER}\r\n\r\n".encode())
        head = sock.recv(READ_CHUNK)
        outcome.append(int(head.split(b" ", 2)[1]))
        while not stop.is_set() and sock.recv(READ_CHUNK):
            time.sleep(READ_PAUSE)
    except OSError as exc:
        outcome.append(repr(exc))
    finally:
        sock.close()


def healthz_under_slow_clients(port: int, path: str) -> tuple[dict, list]:
    """Start the slow clients, probe /healthz for WINDOW seconds with fresh
    connections, stop the clients; return the latency figures and the download statuses."""
    stop = threading.Event()
    statuses: list = []
    clients = [
        threading.Thread(target=slow_download, args=(port, path, stop, statuses), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    for client in clients:
        client.start()
    time.sleep(1.0)  # every client has its answer and is reading slowly
    latencies = []
    deadline = time.monotonic() + WINDOW
    try:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            status, _, body = request(port, "GET", "/healthz")
            latencies.append((time.perf_counter() - start) * 1000)
            assert status == 200 and body == b"ok"
            time.sleep(0.01)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=40)
    latencies.sort()
    return {
        "healthz_p50_ms": round(latencies[len(latencies) // 2], 1),
        "healthz_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "probes": len(latencies),
        "load_average_1m": round(os.getloadavg()[0], 2),  # the machine is shared; say how busy it was
    }, statuses


def record(name: str, figures: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "nginx-load.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = figures
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    print(name, figures)


@pytest.fixture
def big_file(media):
    return make_resource(b"\0" * (BIG_FILE_MB * 1024 * 1024), "大文件.zip")


def test_slow_downloaders_behind_nginx_leave_pages_fast(stack, big_file):
    figures, statuses = healthz_under_slow_clients(stack.port, big_file.get_download_url())
    record("behind nginx", {**figures, "downloads": statuses})
    assert statuses == [200] * SLOW_CLIENTS  # nginx sends them all; no gunicorn thread is held
    assert downloads_of(big_file) == SLOW_CLIENTS
    assert figures["healthz_p99_ms"] < 50


def test_slow_downloaders_on_gunicorn_alone_are_capped_and_pages_stay_fast(stack, big_file, tmp_path):
    env = {k: v for k, v in stack.env.items() if k != "ZHIKU_ACCEL_REDIRECT"}
    env["ZHIKU_MAX_DOWNLOADS_PER_WORKER"] = "2"
    with Gunicorn(env, log_path=tmp_path / "alone.log") as alone:
        figures, statuses = healthz_under_slow_clients(alone.port, big_file.get_download_url())
    record("gunicorn alone", {**figures, "downloads": statuses})
    served = statuses.count(200)
    assert 1 <= served <= 2 * 2  # workers × cap
    assert statuses.count(503) == SLOW_CLIENTS - served
    assert downloads_of(big_file) == served
    assert figures["healthz_p99_ms"] < 50
