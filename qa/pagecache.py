"""Rendered question pages, cached whole with a hole for the view count.

Between two anonymous visits of a question page only its view count differs,
so the page is rendered once with a placeholder there, kept in the default
cache, and every visit fills the placeholder in. The page carries no other
per-visitor value (the language switch is a plain link, no form and no CSRF
token), so one rendering serves everyone.

Freshness in every worker process (SPEC §13) comes from the cache key, never
from deleting entries: the key holds the content version (``qa.freshness``),
read in the same query as the question's slug and view count, so any write to
content anywhere gives every page a new key at once.
"""

import functools
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext

from qa import freshness
from qa.models import Question

# Upper bound on how long an unread entry stays, and on how stale the
# "similar questions" order (which follows view counts) may get.
PAGE_CACHE_SECONDS = 600


@dataclass(frozen=True)
class PageState:
    """What a visit needs to know before deciding whether to render at all."""

    pk: int
    slug: str
    views: int
    version: int  # the content version when the state was read


def page_state(pk: int) -> PageState | None:
    """The published question's slug and views, and the content version: one query."""
    with connection.cursor() as cursor:
        cursor.execute(*_state_statement().bind(pk))
        row = cursor.fetchone()
    if row is None:
        return None
    slug, views, version = row
    return PageState(pk=pk, slug=slug, views=views, version=version or 0)


@dataclass(frozen=True)
class _Statement:
    sql: str
    params: tuple
    slot: int  # which parameter is the question id

    def bind(self, pk: int) -> tuple[str, list]:
        params = list(self.params)
        params[self.slot] = pk
        return self.sql, params


# The site's one precompiled statement. The ORM writes it (so it follows the
# models and the database vendor) once per process; each visit only binds its
# id. Building the same query through the ORM on every visit cost more CPU than
# the rest of a cached visit together (docs/performance.md has the profile).
_ID_MARKER = -7301


@functools.cache
def _state_statement() -> _Statement:
    queryset = (
        Question.objects.published()
        .filter(pk=_ID_MARKER)
        .values_list("slug", "views", freshness.subquery())
        .order_by()[:1]
    )
    sql, params = queryset.query.sql_with_params()
    return _Statement(sql=sql, params=tuple(params), slot=params.index(_ID_MARKER))


def _release() -> str:
    """Changes when templates or hashed static file names do (a deploy), so a
    shared cache such as Redis never serves a page built by older code."""
    digest = hashlib.sha256()
    roots = [Path(d) for conf in settings.TEMPLATES for d in conf.get("DIRS", [])]
    roots += [Path(settings.BASE_DIR) / app / "templates" for app in ("qa", "resources")]
    for root in roots:
        for path in sorted(root.rglob("*.html")) if root.is_dir() else []:
            digest.update(path.read_bytes())
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:12]


_RELEASE = _release()

# The placeholder is an HTML comment, which neither the sanitised Markdown
# (nh3 strips comments) nor autoescaped text can contain; its name is keyed
# on the secret, so not even a raw template value could spell it.
_SLOT_NAME = hmac.new(settings.SECRET_KEY.encode(), b"zhiku.pagecache.views", "sha256").hexdigest()[:16]
VIEWS_SLOT = mark_safe(f"<!--zk:views:{_SLOT_NAME}-->")  # noqa: S308 - a fixed HTML comment


def _is_shared(request) -> bool:
    """Only anonymous visits without a query string share a rendering: a
    signed-in editor may see more, and a query string is the visitor's own."""
    if request.META.get("QUERY_STRING"):
        return False
    # Without a session cookie nobody can be signed in, so the session and the
    # user need not be loaded at all: most visitors have none.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return True
    return not request.user.is_authenticated


def _key(request, state: PageState) -> str | None:
    if not _is_shared(request):
        return None
    parts = [state.pk, state.version, get_language(), request.scheme, request.get_host()]
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"qa:page:{_RELEASE}:{digest}"


def cached_page(request, state: PageState) -> str | None:
    """The rendered page with its placeholder, if this visit may use a cached one."""
    key = _key(request, state)
    return cache.get(key) if key else None


def store_page(request, state: PageState, html: str) -> None:
    key = _key(request, state)
    if key:
        cache.set(key, html, PAGE_CACHE_SECONDS)


def slots() -> dict:
    """Template context that renders the placeholder instead of the view count."""
    return {"views_label": VIEWS_SLOT}


def views_label(views: int) -> str:
    return ngettext("%(counter)s view", "%(counter)s views", views) % {"counter": views}


def fill(html: str, *, views: int) -> str:
    """Put this visit's view count into the placeholder."""
    return html.replace(VIEWS_SLOT, views_label(views))
