"""DJANGO_ENV=production: the deploy checks pass, and missing essentials fail loudly."""

import json

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
