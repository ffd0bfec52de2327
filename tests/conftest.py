import itertools

import pytest

from qa.models import Question, RelatedQuestion, Tag

_counter = itertools.count(1)


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


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (rate limits, cached fragments)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
