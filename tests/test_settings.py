"""Settings from the environment, request ids and structured logs."""

import io
import json
import logging
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import path

from config.settings import env_bool, env_int, env_rate
from tests.conftest import run_django


def explode(request):
    raise RuntimeError("secret detail: table qa_question is on fire")


# This module doubles as a URLconf for the error-page tests (pytest.mark.urls).
urlpatterns = [path("explode/", explode), path("api/explode/", explode)]
handler500 = "config.errors.server_error"

SHOW = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({"cache": settings.CACHES["default"]["BACKEND"],
                  "location": settings.CACHES["default"].get("LOCATION"),
                  "db": settings.DATABASES["default"]["ENGINE"],
                  "limits": settings.ZHIKU_RATELIMITS, "proxies": settings.ZHIKU_TRUSTED_PROXIES}))
"""


def settings_with(**env) -> dict:
    result = run_django(SHOW, env={"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60/m", (60, 60)),
        ("5/15m", (5, 900)),
        ("100/30s", (100, 30)),
        ("1000/h", (1000, 3600)),
        ("2/d", (2, 86400)),
    ],
)
def test_rate_strings(monkeypatch, text, expected):
    monkeypatch.setenv("ZHIKU_RATELIMIT_TEST", text)
    assert env_rate("ZHIKU_RATELIMIT_TEST", "1/s") == expected


@pytest.mark.parametrize("text", ["60", "sixty/m", "60/w", "0/m", "5/0m", "-1/m"])
def test_bad_rate_strings_are_refused(monkeypatch, text):
    monkeypatch.setenv("ZHIKU_RATELIMIT_TEST", text)
    with pytest.raises(ImproperlyConfigured, match="ZHIKU_RATELIMIT_TEST"):
        env_rate("ZHIKU_RATELIMIT_TEST", "1/s")


def test_limits_and_proxies_come_from_the_environment():
    values = settings_with(
        ZHIKU_RATELIMIT_SEARCH="10/30s", ZHIKU_RATELIMIT_ADMIN_LOGIN="3/h", ZHIKU_TRUSTED_PROXIES="1"
    )
    assert values["limits"]["search"] == [10, 30]
    assert values["limits"]["admin-login"] == [3, 3600]
    assert values["limits"]["download"] == [60, 60]
    assert values["proxies"] == 1


def test_a_bad_limit_stops_startup_with_its_name():
    result = run_django("", env={"ZHIKU_RATELIMIT_DOWNLOAD": "lots"}, args=("check",))
    assert result.returncode != 0
    assert "ZHIKU_RATELIMIT_DOWNLOAD='lots'" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("Yes", True),
        (" on ", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("OFF", False),
        ("", None),
    ],
)
def test_boolean_variables_accept_the_usual_spellings(monkeypatch, text, expected):
    monkeypatch.setenv("ZHIKU_TEST_FLAG", text)
    assert env_bool("ZHIKU_TEST_FLAG", None) is expected


@pytest.mark.parametrize("text", ["flase", "ture", "2", "enabled", "y", "nope"])
def test_a_misspelt_boolean_is_refused_with_its_name(monkeypatch, text):
    monkeypatch.setenv("ZHIKU_TEST_FLAG", text)
    with pytest.raises(ImproperlyConfigured, match=f"ZHIKU_TEST_FLAG='{text}'"):
        env_bool("ZHIKU_TEST_FLAG", True)


@pytest.mark.parametrize("name", ["DJANGO_SSL_REDIRECT", "DJANGO_DEBUG", "ZHIKU_RATELIMIT"])
def test_a_boolean_typo_stops_startup_naming_the_variable(name):
    """Even outside production, so the typo is found before it is deployed."""
    result = run_django("", env={name: "flase"}, args=("check",))
    assert result.returncode != 0
    assert f"{name}='flase'" in result.stderr


@pytest.mark.parametrize("text", ["many", "-1", "2.5", "0"])
def test_a_bad_number_is_refused_with_its_name(monkeypatch, text):
    monkeypatch.setenv("ZHIKU_TEST_NUMBER", text)
    with pytest.raises(ImproperlyConfigured, match="ZHIKU_TEST_NUMBER"):
        env_int("ZHIKU_TEST_NUMBER", 3, minimum=1)


def test_the_download_cap_defaults_to_half_the_gunicorn_threads():
    show = "import django; from django.conf import settings; django.setup()\n"
    show += "print(settings.ZHIKU_MAX_DOWNLOADS_PER_WORKER)"
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "GUNICORN_THREADS": "4"}
    assert run_django(show, env=env).stdout.strip() == "2"
    assert run_django(show, env={**env, "GUNICORN_THREADS": "16"}).stdout.strip() == "8"
    assert run_django(show, env={**env, "GUNICORN_THREADS": "1"}).stdout.strip() == "1"
    assert run_django(show, env={**env, "ZHIKU_MAX_DOWNLOADS_PER_WORKER": "5"}).stdout.strip() == "5"


def test_an_accel_redirect_prefix_must_be_a_path():
    result = run_django("", env={"ZHIKU_ACCEL_REDIRECT": "protected"}, args=("check",))
    assert result.returncode != 0
    assert "ZHIKU_ACCEL_REDIRECT='protected'" in result.stderr


def test_zero_setup_uses_local_memory_and_passes_checks():
    values = settings_with()
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert run_django("", args=("check", "--fail-level", "WARNING")).returncode == 0


def test_redis_url_switches_the_cache_to_redis():
    values = settings_with(REDIS_URL="redis://127.0.0.1:6379/3")
    assert values["cache"] == "config.cache.FailSoftRedisCache"
    assert values["location"] == "redis://127.0.0.1:6379/3"


# --- request ids and logs ----------------------------------------------------------------------


@pytest.fixture
def log_lines(monkeypatch):
    """JSON lines written by the stdout log handler during the test."""
    buffer = io.StringIO()
    handler = logging.getLogger("django.request").handlers[0]
    monkeypatch.setattr(handler, "stream", buffer)

    def lines():
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    return lines


def test_every_response_names_a_request_id(client, db):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/no-such-page/")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_a_plain_request_id_from_the_proxy_is_kept(client, db):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21-0001"})
    assert response["X-Request-ID"] == "lb-7f3a9c21-0001"


@pytest.mark.parametrize(
    "bad", ["short", "has space in it", "x" * 200, "semi;colon=1234", "新的请求编号12345"]
)
def test_an_odd_request_id_is_replaced(client, db, bad):
    response = client.get("/healthz", headers={"X-Request-ID": bad})
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.urls("tests.test_settings")
def test_a_crash_is_logged_with_the_request_id_and_not_shown(client, log_lines):
    client.raise_request_exception = False
    response = client.get("/explode/")
    body = response.content.decode()
    request_id = response["X-Request-ID"]
    assert response.status_code == 500
    assert "on fire" not in body and "Traceback" not in body
    assert request_id in body  # so a visitor can quote it
    [line] = [line for line in log_lines() if line["logger"] == "django.request"]
    assert line["level"] == "ERROR"
    assert line["request_id"] == request_id
    assert "secret detail: table qa_question is on fire" in line["exc"]


@pytest.mark.urls("tests.test_settings")
def test_an_api_crash_answers_json_with_the_request_id(client, log_lines):
    client.raise_request_exception = False
    response = client.get("/api/explode/")
    assert response.status_code == 500
    assert json.loads(response.content) == {"error": "internal error", "request_id": response["X-Request-ID"]}


def test_log_lines_outside_a_request_are_json_too(log_lines):
    logging.getLogger("django.request").warning("odd thing %s", "happened", extra={"count": 3})
    [line] = log_lines()
    assert line["message"] == "odd thing happened"
    assert line["request_id"] == "-"
    assert line["count"] == 3


def test_an_s3_bucket_moves_media_to_s3_compatible_storage():
    code = """
import django
django.setup()
from django.core.files.storage import storages
storage = storages["default"]
print(type(storage).__module__, storage.bucket_name, storage.endpoint_url)
print(storage.location, storage.file_overwrite)
"""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ZHIKU_S3_BUCKET": "zhiku-media",
        "ZHIKU_S3_ENDPOINT_URL": "https://s3.example.com",
    }
    result = run_django(code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "storages.backends.s3",
        "zhiku-media",
        "https://s3.example.com",
        "media",
        "False",
    ]


def test_media_stays_on_the_local_disk_without_a_bucket():
    result = run_django(
        "import django; django.setup(); from django.core.files.storage import storages;"
        "print(type(storages['default']).__name__)",
        env={"DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    assert result.stdout.strip() == "MediaStorage"


# --- security log -------------------------------------------------------------------------------


def security_lines(caplog) -> list[dict]:
    from config.logging import JsonFormatter

    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "zhiku.security"]


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_user("editor", password="Correct-horse-42", is_staff=True)


def post_login(client, password, username="editor"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR="203.0.113.9",
    )


def test_a_failed_admin_login_is_logged_without_the_password(client, editor, caplog):
    caplog.set_level(logging.WARNING, logger="zhiku.security")
    assert post_login(client, "Hunter2-wrong-guess").status_code == 200
    [line] = security_lines(caplog)
    assert line["message"] == "admin login failed"
    assert line["username"] == "editor"
    assert line["client"] == "203.0.113.9"
    assert line["level"] == "WARNING"
    assert "Hunter2-wrong-guess" not in json.dumps(line)


def test_a_successful_login_logs_nothing(client, editor, caplog):
    caplog.set_level(logging.WARNING, logger="zhiku.security")
    assert post_login(client, "Correct-horse-42").status_code == 302
    assert security_lines(caplog) == []


def test_a_locked_out_login_is_logged(client, editor, caplog, settings):
    settings.ZHIKU_RATELIMITS = {**settings.ZHIKU_RATELIMITS, "admin-login": (2, 900)}
    caplog.set_level(logging.WARNING, logger="zhiku.security")
    post_login(client, "wrong-1")
    post_login(client, "wrong-2")
    assert post_login(client, "Correct-horse-42").status_code == 429
    messages = [(line["message"], line["username"], line["client"]) for line in security_lines(caplog)]
    assert messages == [
        ("admin login failed", "editor", "203.0.113.9"),
        ("admin login failed", "editor", "203.0.113.9"),
        ("admin login locked", "editor", "203.0.113.9"),
    ]
    assert all("Correct-horse-42" not in json.dumps(line) for line in security_lines(caplog))


# --- gunicorn ----------------------------------------------------------------------------------


def gunicorn_settings(monkeypatch, **env) -> dict:
    import runpy

    from tests.conftest import ROOT

    for name in ("GUNICORN_CONTROL_SOCKET", "GUNICORN_MAX_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))


def test_the_gunicorn_control_socket_is_off_unless_asked_for(monkeypatch):
    assert gunicorn_settings(monkeypatch)["control_socket_disable"] is True
    chosen = gunicorn_settings(monkeypatch, GUNICORN_CONTROL_SOCKET="var/gunicorn.ctl")
    assert chosen["control_socket"] == "var/gunicorn.ctl"
    assert "control_socket_disable" not in chosen


def test_gunicorn_recycles_workers_rarely_by_default(monkeypatch):
    """docs/configuration.md and docs/deploy.md state this default."""
    values = gunicorn_settings(monkeypatch)
    assert values["max_requests"] == 100_000
    assert values["max_requests_jitter"] == 10_000
