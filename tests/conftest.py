import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from qa.models import Question, RelatedQuestion, Tag
from resources.models import Recommendation, Resource

_counter = itertools.count(1)
ROOT = Path(__file__).resolve().parent.parent


def make_tag(name: str) -> Tag:
    tag, _ = Tag.objects.get_or_create(name=name)
    return tag


def make_question(*, tags=(), related=(), **overrides) -> Question:
    """A saved, published question; keyword arguments override any field."""
    n = next(_counter)
    fields = {
        "title": f"测试问题 {n}",
        "answer": f"这是第 {n} 个回答。",
    }
    fields.update(overrides)
    question = Question.objects.create(**fields)
    if tags:
        question.tags.set([make_tag(t) if isinstance(t, str) else t for t in tags])
    for position, other in enumerate(related):
        RelatedQuestion.objects.create(from_question=question, to_question=other, position=position)
    return question


PDF_BYTES = b"%PDF-1.4\n% a tiny test document\n%%EOF\n"


def make_resource(*, content=PDF_BYTES, filename="资料.pdf", questions=(), **overrides) -> Resource:
    """A saved, published resource with a stored file; keyword arguments override any field."""
    n = next(_counter)
    fields = {"title": f"测试资源 {n}", "description": f"第 {n} 个资源的**说明**。"}
    fields.update(overrides)
    resource = Resource.objects.create(file=ContentFile(content, name=filename), **fields)
    for position, question in enumerate(questions):
        Recommendation.objects.create(question=question, resource=resource, position=position)
    return resource


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploaded files go to a fresh folder of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def counts_a_table(sql: str) -> bool:
    """Whether ``sql`` has a COUNT other than the content version's count of passed
    publication times (``qa.freshness``), which reads a handful of rows by an index."""
    sql = sql.upper()
    return sql.count("COUNT(") > sql.count("QA_PENDINGPUBLICATION")


SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def sitemap_locations(client) -> list[str]:
    """Every URL the sitemap lists: the index at /sitemap.xml, then each section page it names."""
    import xml.etree.ElementTree as ET
    from urllib.parse import urlsplit

    index = client.get("/sitemap.xml")
    assert index.status_code == 200
    locations = []
    for section in ET.fromstring(index.content).findall("s:sitemap/s:loc", SITEMAP_NS):  # noqa: S314
        url = urlsplit(section.text)
        page = client.get(url.path, {"p": url.query.removeprefix("p=")} if url.query else {})
        assert page.status_code == 200, section.text
        locations += [loc.text for loc in ET.fromstring(page.content).findall("s:url/s:loc", SITEMAP_NS)]  # noqa: S314
    return locations


def pytest_configure(config):
    from django.conf import settings

    # Tests render templates without running collectstatic first; the hashed
    # manifest storage is exercised by the gunicorn-based tests instead.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    # Search by meaning runs the model: only the tests that ask for it (the ``meaning`` fixture).
    settings.ZHIKU_SEMANTIC_SEARCH = False


def run_django(code: str, *, env: dict | None = None, args: tuple = ()) -> subprocess.CompletedProcess:
    """Run Python ``code`` (or ``manage.py args``) in a fresh process with settings built from ``env``.

    Settings read the environment once at import, so production or Redis
    configurations are checked in a child process with a clean environment.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ZHIKU_", "REDIS_"))}
    clean.update(env or {})
    command = [sys.executable, "manage.py", *args] if args else [sys.executable, "-c", code]
    return subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` skip, saying why, when the suite runs on another database."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(reason="PostgreSQL only: set DATABASE_URL=postgres://... (see .ci/postgres.sh)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (rate limits, cached fragments)."""
    from django.core.cache import cache

    from qa.search import forget_process_state

    cache.clear()
    forget_process_state()
    yield
    cache.clear()
    forget_process_state()


@pytest.fixture(autouse=True)
def _rate_limit_clock_stands_still(monkeypatch):
    """Limits count in fixed windows of the clock: two requests on either side of a window's
    end would count once each, and a test of a limit would pass or fail by the minute it ran
    in (a slow image upload made that happen). The limiter's clock stands 30 s into a window
    unless a test moves it (tests/test_ratelimit.py)."""
    from config import ratelimit

    monkeypatch.setattr(ratelimit, "now", lambda: 1_700_000_010.0)


@pytest.fixture(autouse=True)
def _free_download_slots(_fresh_cache, monkeypatch, settings):
    """No download slot is ever short outside tests/test_download_slots.py: the test
    client never closes a streamed response nobody read, which a real server always does.

    After ``_fresh_cache``, so the cache is cleared before a test's own settings are undone.
    """
    from resources import downloads, views

    monkeypatch.setattr(views, "TRANSFERS", downloads.TransferSlots())
    settings.ZHIKU_MAX_DOWNLOADS_PER_WORKER = 1000
