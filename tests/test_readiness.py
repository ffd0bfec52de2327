"""/readyz: database, cache and storage, each with a short timeout (docs/deploy.md)."""

import json
import threading

import pytest

from config import health
from tests.conftest import run_django

pytestmark = pytest.mark.django_db


def readyz(client, **headers):
    response = client.get("/readyz", headers=headers)
    return response, json.loads(response.content)


def test_ready_when_database_cache_and_storage_answer(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media-not-created-yet"
    response, body = readyz(client)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "storage"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert all(check["ms"] >= 0 for check in body["checks"].values())


def test_never_cached_and_never_rate_limited(client, settings):
    settings.ZHIKU_RATELIMITS = dict.fromkeys(settings.ZHIKU_RATELIMITS, (1, 60))
    statuses = {readyz(client)[0].status_code for _ in range(5)}
    assert statuses == {200}
    response, _ = readyz(client)
    assert "no-store" in response["Cache-Control"]


def test_a_failing_check_gives_503_naming_it(client, monkeypatch):
    def broken_cache():
        raise ConnectionError("redis://secret-host:6379 refused")

    monkeypatch.setitem(health.CHECKS, "cache", broken_cache)
    response, body = readyz(client)
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"] == {
        "status": "error",
        "error": "ConnectionError",
        "ms": body["checks"]["cache"]["ms"],
    }
    assert body["checks"]["database"]["status"] == "ok"
    assert "secret-host" not in response.content.decode()  # details go to the log only


def test_a_stalled_check_times_out_instead_of_holding_the_request(client, monkeypatch, settings):
    settings.ZHIKU_READYZ_TIMEOUT = 0.2
    release = threading.Event()
    monkeypatch.setitem(health.CHECKS, "storage", lambda: release.wait(30))
    try:
        response, body = readyz(client)
    finally:
        release.set()
    assert response.status_code == 503
    assert body["checks"]["storage"]["status"] == "timeout"
    assert body["checks"]["database"]["status"] == "ok"


def test_an_unwritable_media_root_is_not_ready(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.MEDIA_ROOT = blocker / "media"
    response, body = readyz(client)
    assert response.status_code == 503
    assert body["checks"]["storage"]["status"] == "error"


def test_an_unreachable_redis_is_not_ready():
    """A real cache client against a closed port, in a process of its own."""
    code = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/readyz", HTTP_HOST="localhost")
print(response.status_code, json.loads(response.content)["checks"]["cache"]["status"])
"""
    result = run_django(
        code,
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "REDIS_URL": "redis://127.0.0.1:9/0",
            "DJANGO_LOG_LEVEL": "CRITICAL",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["503", "error"]


def test_healthz_stays_trivial(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"
