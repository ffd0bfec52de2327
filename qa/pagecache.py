"""Rendered question pages, cached whole with holes for what changes per visit.

A question page takes several queries (related questions, resources) and a few
milliseconds of template rendering to build, yet between two anonymous visits
only two things on it differ: the view count and the CSRF token of the language
form. So the page is rendered with a placeholder in each of those spots, kept
in the default cache, and every visit fills the placeholders in (docs/performance.md
has the figures).

Freshness in every worker process (SPEC §13) comes from the cache key, never
from deleting entries, which a per-process local-memory cache could not do for
its neighbours. The key holds the question's own ``updated`` stamp and a
content version read from the database in the same query as the question:

* the content version (``qa.freshness``), bumped on every save, delete and
  link change of questions, tags, curated links, resources and recommendations;
* the newest ``updated`` and the number of resources (edits, uploads, deletions);
* the newest curated link and recommendation ids (links added directly);
* the newest admin log entry (anything done in the admin, deletions included).

A change anywhere gives every page a new key at once; old entries are simply
never read again and expire. Writes that bypass all of these (``QuerySet.update``
of a title, a raw deletion of a link row) show within ``PAGE_CACHE_SECONDS``.
"""

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.db import connection
from django.middleware.csrf import get_token
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext

from qa.models import ContentVersion, Question, RelatedQuestion
from resources.models import Recommendation, Resource

# Upper bound on how long a page can lag behind a write that none of the
# version sources notice, and on how stale the "similar questions" order
# (which follows view counts) may get.
PAGE_CACHE_SECONDS = 600

# Markers the cached HTML carries instead of per-visit values. Plain ASCII that
# autoescaping leaves alone and that no Markdown rendering can produce.
VIEWS_SLOT = mark_safe("<!--zk:views-->")  # noqa: S308 - a fixed HTML comment
CSRF_SLOT = "zkcsrfslot7f3a9c"


@dataclass(frozen=True)
class PageState:
    """What a visit needs to know before deciding whether to render at all."""

    pk: int
    slug: str
    views: int
    version: str  # the question's own updated stamp plus the site's content version
    content_version: int  # qa.freshness alone, which keys cached similar questions


@functools.cache
def _state_sql() -> str:
    # Written once as plain SQL: building the same statement through the ORM
    # on every visit cost more than the rest of a cached visit together.
    quote = connection.ops.quote_name
    question, content = quote(Question._meta.db_table), quote(ContentVersion._meta.db_table)
    newest = [
        (Question, "updated"),
        (Resource, "updated"),
        (RelatedQuestion, "id"),
        (Recommendation, "id"),
        (LogEntry, "id"),
    ]
    # Only table and column names from the models go into the text; values are parameters.
    versions = [f"(SELECT MAX({quote(col)}) FROM {quote(m._meta.db_table)})" for m, col in newest]  # noqa: S608
    versions.append(f"(SELECT COUNT(*) FROM {quote(Resource._meta.db_table)})")  # noqa: S608
    versions.append(f"(SELECT {quote('value')} FROM {content} WHERE {quote('id')} = 1)")  # noqa: S608
    return (
        f"SELECT q.id, q.slug, q.views, q.updated, {', '.join(versions)} "  # noqa: S608
        f"FROM {question} q WHERE q.id = %s AND q.is_published = %s"
    )


def page_state(pk: int) -> PageState | None:
    """The published question's slug, views and content version, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(_state_sql(), [pk, True])
        row = cursor.fetchone()
    if row is None:
        return None
    return PageState(
        pk=row[0],
        slug=row[1],
        views=row[2],
        version="|".join(map(str, row[3:])),
        content_version=row[-1] or 0,
    )


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


def _key(request, state: PageState) -> str | None:
    # Only anonymous visits without a query string share a rendering: a signed-in
    # editor may see more, and the query string ends up in the language form.
    if request.GET or request.user.is_authenticated:
        return None
    parts = [state.pk, state.version, get_language(), request.scheme, request.get_host()]
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"qa:page:{_RELEASE}:{digest}"


def cached_page(request, state: PageState) -> str | None:
    """The rendered page with its placeholders, if this visit may use a cached one."""
    key = _key(request, state)
    return cache.get(key) if key else None


def store_page(request, state: PageState, html: str) -> None:
    key = _key(request, state)
    if key:
        cache.set(key, html, PAGE_CACHE_SECONDS)


def slots() -> dict:
    """Template context that renders the placeholders instead of per-visit values."""
    return {"views_label": VIEWS_SLOT, "csrf_token": CSRF_SLOT}


def views_label(views: int) -> str:
    return ngettext("%(counter)s view", "%(counter)s views", views) % {"counter": views}


def fill(request, html: str, *, views: int) -> str:
    """Put this visit's view count and CSRF token into the placeholders."""
    html = html.replace(VIEWS_SLOT, views_label(views))
    if CSRF_SLOT in html:
        # get_token() also makes the CSRF middleware send the cookie, exactly
        # as rendering {% csrf_token %} would.
        html = html.replace(CSRF_SLOT, get_token(request))
    return html
