"""Every kind of response carries the security headers (SPEC §13), errors, HEAD
requests, redirects and static files included, and no page needs what CSP forbids.

The policy allows scripts and styles only from our own origin, so a page with
an inline <script>, an on* handler, a javascript: URL, a style attribute or a
<style> block would break (and log console errors) in a browser.
"""

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from resources.models import Recommendation, Resource
from tests.conftest import make_question

pytestmark = pytest.mark.django_db

# Data blocks are not executed, so CSP's script-src does not apply to them.
DATA_SCRIPT_TYPES = {"application/ld+json", "application/json"}


class PolicyAudit(HTMLParser):
    """Collects what a strict same-origin CSP would block in an HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> event handler")
            if name == "style":
                self.problems.append(f"<{tag} style=…> inline style")
            if name in {"href", "src", "action", "formaction"} and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}=javascript:…>")
        if tag == "style":
            self.problems.append("<style> block")
        if tag == "script":
            src = attrs.get("src")
            if src is None and (attrs.get("type") or "").lower() not in DATA_SCRIPT_TYPES:
                self._inline_script = True
            if src and (src.startswith("//") or "://" in src):
                self.problems.append(f"script from another origin: {src}")
        if tag == "link" and "stylesheet" in (attrs.get("rel") or "") and "://" in (attrs.get("href") or ""):
            self.problems.append(f"stylesheet from another origin: {attrs['href']}")

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False


@pytest.fixture
def content(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    question = make_question(
        title="如何用 Python 做灰度反色", answer="```python\nprint('反色')\n```", tags=["python"]
    )
    make_question(title="什么是反色", related=[question])
    resource = Resource(title="反色示例代码", description="**示例**")
    resource.file.save("示例.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18), save=False)
    resource.save()
    Recommendation.objects.create(question=question, resource=resource, position=0)
    return {"question": question, "resource": resource, "tag": question.tags.get()}


def public_paths(content):
    question, resource, tag = content["question"], content["resource"], content["tag"]
    return [
        "/",
        "/questions/",
        "/questions/?sort=views&page=1",
        question.get_absolute_url(),
        tag.get_absolute_url(),
        "/search/?q=反色",
        "/resources/",
        resource.get_absolute_url(),
        resource.get_download_url(),
        "/tools/invert/",
        "/admin/login/",
        "/admin/",
        "/sitemap.xml",
        "/feed/",
        "/robots.txt",
        "/healthz",
        "/favicon.ico",
        "/static/css/site.css",
        "/static/img/favicon.svg",
        "/api/questions/",
        f"/api/questions/{question.pk}/",
        "/api/resources/",
        "/no-such-page/",
        "/api/no-such-thing/",
        "/questions/?page=999",
        "/api/questions/?page=x",
        "/api/questions/999999/",
        f"/questions/{question.pk}/",
        "/static/js/site.js",
        "/static/no-such-file.css",
    ]


def assert_security_headers(response, path):
    csp = response.get("Content-Security-Policy", "")
    assert csp, f"{path}: no Content-Security-Policy"
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip())
    # A stricter policy (e.g. "default-src 'none'" on file downloads) is fine too.
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts in {"'self'", "'none'"}, f"{path}: scripts allowed from {scripts!r}"
    assert "'unsafe-inline'" not in directives.get("style-src", ""), path
    assert directives.get("object-src", directives.get("default-src")) == "'none'", path
    assert directives.get("frame-ancestors") == "'none'" or response.get("X-Frame-Options") == "DENY", path
    assert response.get("X-Content-Type-Options") == "nosniff", path
    assert response.get("Referrer-Policy"), path


def assert_csp_compatible(response, path):
    if not response.get("Content-Type", "").startswith("text/html"):
        return
    audit = PolicyAudit()
    audit.feed(response.content.decode())
    assert audit.problems == [], f"{path}: {audit.problems}"


def test_every_public_response_carries_security_headers_and_needs_no_inline_code(client, content):
    checked = 0
    for path in public_paths(content):
        response = client.get(path)
        assert response.status_code < 500, path
        assert_security_headers(response, path)
        if response.get("Content-Type", "").startswith("text/html"):
            assert_csp_compatible(response, path)
            checked += 1
    assert checked >= 8


def test_error_responses_carry_security_headers(client, db):
    for path in ["/no-such-page/", "/questions/999999/x/", "/api/questions/999999/"]:
        response = client.get(path)
        assert response.status_code == 404
        assert_security_headers(response, path)
        assert_csp_compatible(response, path)


def test_admin_pages_work_under_the_policy(client, content):
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "a-long-Passw0rd")
    client.force_login(admin)
    question, resource = content["question"], content["resource"]
    paths = [
        "/admin/",
        "/admin/qa/question/",
        "/admin/qa/question/add/",
        f"/admin/qa/question/{question.pk}/change/",
        "/admin/qa/tag/",
        "/admin/resources/resource/",
        f"/admin/resources/resource/{resource.pk}/change/",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_security_headers(response, path)
        assert_csp_compatible(response, path)


def test_static_files_get_the_policy_too(client):
    response = client.get("/static/img/favicon.svg")
    assert response.status_code == 200
    assert_security_headers(response, "/static/img/favicon.svg")


def test_head_request_carries_the_security_headers(client, content):
    path = content["question"].get_absolute_url()
    assert_security_headers(client.head(path), path)


def test_stylesheets_served_by_whitenoise_carry_the_headers(client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert_security_headers(response, "/static/css/site.css")
