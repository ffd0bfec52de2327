"""DJANGO_ENV=production: the deploy checks pass, and missing essentials fail loudly."""

import json
import os
import time

import pytest

from tests.conftest import run_django

PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "k7-Vq2pX9mZr4LwT0yHs6NcB1uJe8GdFa3QiK5oPxY_tRnW-Mb" * 2,
    "DJANGO_ALLOWED_HOSTS": "zhiku.example.com",
}

SHOW_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
names = ["DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
         "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER", "ALLOWED_HOSTS",
         "CSRF_TRUSTED_ORIGINS"]
print(json.dumps({n: getattr(settings, n, None) for n in names}))
"""


def production_settings(**extra) -> dict:
    result = run_django(
        SHOW_SETTINGS, env={**PRODUCTION, "DJANGO_SETTINGS_MODULE": "config.settings", **extra}
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_reports_nothing_in_production():
    result = run_django("", env=PRODUCTION, args=("check", "--deploy", "--fail-level", "WARNING"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_debug_left_on_in_production():
    """The check is real: turning DEBUG on in production makes it fail."""
    env = {**PRODUCTION, "DJANGO_DEBUG": "true"}
    result = run_django("", env=env, args=("check", "--deploy", "--fail-level", "WARNING"))
    assert result.returncode != 0
    assert "DEBUG" in result.stderr


def test_production_turns_on_https_protections():
    values = production_settings()
    assert values["DEBUG"] is False
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["ALLOWED_HOSTS"] == ["zhiku.example.com"]


def test_trusted_origins_come_from_the_environment():
    values = production_settings(
        DJANGO_CSRF_TRUSTED_ORIGINS="https://zhiku.example.com,https://www.zhiku.example.com"
    )
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://zhiku.example.com", "https://www.zhiku.example.com"]


def test_local_runs_keep_plain_http_cookies():
    result = run_django(SHOW_SETTINGS, env={"DJANGO_SETTINGS_MODULE": "config.settings"})
    values = json.loads(result.stdout)
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY must be set when DJANGO_ENV=production"),
        ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS must be set when DJANGO_ENV=production"),
    ],
)
def test_production_without_an_essential_fails_with_a_clear_message(missing, message):
    env = {**PRODUCTION, missing: ""}
    result = run_django("", env=env, args=("check",))
    assert result.returncode != 0
    assert message in result.stderr


# --- freshness across worker processes (SPEC §13) -------------------------------------------------


@pytest.fixture
def gunicorn_two_workers(transactional_db, tmp_path):
    """gunicorn with 2 worker processes (local-memory cache each) on the test database."""
    from django.db import connection

    from bench.server import Gunicorn

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        "DATABASE_URL": url,
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
        "ZHIKU_RATELIMIT": "off",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    collected = run_django("", env=env, args=("collectstatic", "--noinput", "--verbosity", "0"))
    assert collected.returncode == 0, collected.stderr
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ZHIKU_", "REDIS_"))}
    with Gunicorn({**clean, **env}, log_path=tmp_path / "gunicorn.log") as server:
        # /healthz answers as soon as one worker is up; wait for the second.
        deadline = time.monotonic() + 60
        while len(server.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(server.worker_pids()) == 2
        yield server


def test_an_edit_shows_at_once_in_every_worker_process(gunicorn_two_workers):
    """Each worker caches question pages in its own memory; an edit must still
    show on the very next request, whichever worker answers it."""
    from tests.conftest import make_question

    server = gunicorn_two_workers
    other = make_question(title="旧的相关问题标题")
    question = make_question(title="缓存测试问题", answer="第一版回答", related=[other])
    url = question.get_absolute_url()

    def bodies(n=16):
        # Fresh connections spread over both workers; each warms its own cache.
        return [server.get(url)[1].decode() for _ in range(n)]

    assert all("第一版回答" in body for body in bodies())

    question.answer = "第二版回答"
    question.save()
    assert all("第二版回答" in body and "第一版回答" not in body for body in bodies())

    other.title = "新的相关问题标题"
    other.save()
    assert all("新的相关问题标题" in body for body in bodies())

    question.delete()
    assert {server.get(url)[0] for _ in range(8)} == {404}
