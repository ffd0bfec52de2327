"""Security headers on every response (SPEC §13), including errors and static files."""

import pytest

from tests.conftest import make_question

pytestmark = pytest.mark.django_db


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name.lower()] = values
    return parsed


def assert_security_headers(response):
    policy = directives(response["Content-Security-Policy"])
    script_src = policy.get("script-src", policy.get("default-src"))
    assert script_src, policy
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "*" not in script_src and "data:" not in script_src
    assert "'unsafe-inline'" not in policy.get("style-src", policy["default-src"])
    assert policy["object-src"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    framing = response.get("X-Frame-Options", "").upper() in {"DENY", "SAMEORIGIN"}
    assert framing or policy.get("frame-ancestors") in (["'none'"], ["'self'"])
    assert response["Referrer-Policy"]


@pytest.fixture
def question():
    return make_question(title="反色", tags=["python"])


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/questions/",
        "/questions/?page=999",
        "/tags/python/",
        "/api/questions/",
        "/api/questions/?page=x",
        "/api/questions/999999/",
        "/api/nothing/",
        "/no/such/page/",
        "/sitemap.xml",
        "/feed/",
        "/robots.txt",
        "/healthz",
        "/favicon.ico",
        "/admin/",
        "/admin/login/",
        "/static/css/site.css",
        "/static/js/site.js",
        "/static/img/favicon.svg",
        "/static/no-such-file.css",
    ],
)
def test_every_response_carries_the_security_headers(client, question, url):
    assert_security_headers(client.get(url))


def test_question_page_and_redirect_carry_the_security_headers(client, question):
    assert_security_headers(client.get(question.get_absolute_url()))
    assert_security_headers(client.get(f"/questions/{question.pk}/"))


def test_head_request_carries_the_security_headers(client, question):
    assert_security_headers(client.head(question.get_absolute_url()))


def test_pages_use_no_inline_script_or_style(client, question):
    """The CSP would block them, and the browser console would show errors."""
    for url in ("/", "/questions/", question.get_absolute_url(), "/no/such/page/"):
        body = client.get(url).content.decode()
        for tag in body.split("<script")[1:]:
            opening = tag.split(">", 1)[0]
            assert "src=" in opening or 'type="application/ld+json"' in opening, opening
        assert " style=" not in body and "<style" not in body
        assert " onclick=" not in body and " onload=" not in body


def test_static_files_served_by_whitenoise_carry_the_headers(client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert_security_headers(response)
