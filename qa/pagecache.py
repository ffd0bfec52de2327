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

* the search index version (``qa.search``), bumped on every save, delete,
  publish change and tag change of a question, imports included;
* the newest ``updated`` and the number of resources (edits, uploads, deletions);
* the newest curated link and recommendation ids (links added directly);
* the newest admin log entry (anything done in the admin, deletions included).

A change anywhere gives every page a new key at once; old entries are simply
never read again and expire. Writes that bypass all of these (``QuerySet.update``
of a title, a raw deletion of a link row) show within ``PAGE_CACHE_SECONDS``.
"""

import hashlib
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.db.models import Count, IntegerField, QuerySet, Subquery, Value
from django.middleware.csrf import get_token
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext

from qa import search
from qa.models import Question, RelatedQuestion, SearchTerm
from resources.models import Recommendation, Resource

# Upper bound on how long a page can lag behind a write that none of the
# version sources notice, and on how stale the "similar questions" order
# (which follows view counts) may get.
PAGE_CACHE_SECONDS = 600

# Markers the cached HTML carries instead of per-visit values. Plain ASCII that
# autoescaping leaves alone and that no Markdown rendering can produce.
VIEWS_SLOT = mark_safe("<!--zk:views-->")  # noqa: S308 - a fixed HTML comment
CSRF_SLOT = "zkcsrfslot7f3a9c"


def _newest(queryset: QuerySet, field: str) -> Subquery:
    return Subquery(queryset.order_by(f"-{field}").values(field)[:1])


def _count(queryset: QuerySet) -> Subquery:
    # Grouping by a constant leaves no GROUP BY: one row counting the whole table.
    counted = queryset.order_by().annotate(all=Value(1)).values("all").annotate(n=Count("pk"))
    return Subquery(counted.values("n")[:1], output_field=IntegerField())


def with_content_version(queryset: QuerySet) -> QuerySet:
    """Annotate each question with the site's content version (no extra query)."""
    return queryset.annotate(
        **{
            "_v_index": _newest(SearchTerm.objects.filter(term=search.VERSION), "df"),
            "_v_questions": _newest(Question.objects.all(), "updated"),
            "_v_resources": _newest(Resource.objects.all(), "updated"),
            "_v_resource_count": _count(Resource.objects.all()),
            "_v_links": _newest(RelatedQuestion.objects.all(), "pk"),
            "_v_recommendations": _newest(Recommendation.objects.all(), "pk"),
            "_v_admin": _newest(LogEntry.objects.all(), "pk"),
        }
    )


def content_version(question) -> str:
    return "-".join(str(value) for name, value in vars(question).items() if name.startswith("_v_"))


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


def _key(request, question) -> str | None:
    # Only anonymous visits without a query string share a rendering: a signed-in
    # editor may see more, and the query string ends up in the language form.
    version = content_version(question)
    if not version or request.GET or request.user.is_authenticated:
        return None
    raw = "|".join(
        map(
            str,
            [
                question.pk,
                question.updated.isoformat(),
                content_version(question),
                get_language(),
                request.scheme,
                request.get_host(),
            ],
        )
    )
    return f"qa:page:{_RELEASE}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"


def cached_page(request, question) -> str | None:
    """The rendered page with its placeholders, if this visit may use a cached one."""
    key = _key(request, question)
    return cache.get(key) if key else None


def store_page(request, question, html: str) -> None:
    key = _key(request, question)
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
