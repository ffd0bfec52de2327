"""Full-text search over published questions (SPEC §6).

``search(query, tag=...)`` is the one public entry point. It runs in three steps,
the same on every database:

1. ``tokenize.parse_query`` turns the query into groups (a word, an identifier,
   or a Chinese word matched through its character pairs); words the index has
   never seen are swapped for close spellings from the vocabulary (typos).
2. The database's full-text index returns candidate ids: documents matching
   every group, those matching in the title first, newest first, at most
   ``CANDIDATES``. If no document has every group, each group is looked up on
   its own (rarest first) and the union is ranked by how much of the query it
   covers. SQLite answers from an FTS5 table, PostgreSQL from a GIN-indexed
   tsvector; both hold the same tokens, and the candidate order is defined by
   ids, not by engine-specific scores, so both return the same candidates.
3. The candidates are ranked in Python by one formula (coverage, title hits,
   BM25-like weight of rare words), so both backends give the same order.

Around it: ``qa.search_backends`` (the SQL of each engine), ``qa.search_index``
(``index_question``, called from ``qa.signals`` on save, delete and tag changes,
and ``rebuild_index`` for ``manage.py rebuild_search_index``), ``qa.snippets``
(highlighting) and ``qa.related`` (similar questions).
"""

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

from qa import tokenize
from qa.markdown import plain_text
from qa.models import Question, SearchDocument, SearchTerm, Tag
from qa.related import SIMILAR_KEPT, similar_to
from qa.search_backends import FTS_TABLE, PostgresBackend, PythonBackend, SQLiteBackend, backend
from qa.search_index import (
    DOCS,
    VERSION,
    SourceQuestion,
    document_texts,
    index_question,
    index_version,
    published_sources,
    rebuild_index,
    remove_question,
)
from qa.snippets import highlight, snippet
from qa.tokenize import Group

# The index, its engines and related questions live in their own modules; their
# entry points are re-exported so callers keep one import.
__all__ = [
    "CANDIDATES",
    "DOCS",
    "FTS_TABLE",
    "ListedPage",
    "SIMILAR_KEPT",
    "VERSION",
    "PostgresBackend",
    "PythonBackend",
    "SQLiteBackend",
    "SearchResults",
    "SourceQuestion",
    "backend",
    "document_texts",
    "find_tag",
    "highlight",
    "index_question",
    "index_version",
    "listed_page",
    "published_sources",
    "rebuild_index",
    "remove_question",
    "search",
    "search_request",
    "similar_to",
    "snippet",
]

# Documents ranked per query; result lists stop here (nobody pages past 10 pages).
CANDIDATES = 200
# An indexed English word this rare is also searched as a close spelling that is
# this much more common (and in at least that many documents): likely its typo.
RARE_WORD_DF = 2
COMMON_SPELLING_RATIO = 3
COMMON_SPELLING_DF = 3
_TITLE_WEIGHT = 2.0
# Ranked results are kept per index version, so any write to the index retires them.
_RESULTS_CACHE_SECONDS = 3600
# A page of results needs none of the Markdown sources.
_UNSHOWN_FIELDS = ("body", "answer")


@dataclass
class SearchResults:
    """Ranked ids of one search, and what to highlight in them."""

    query: str
    groups: list[Group]
    ids: list[int]
    # The index version the ids were ranked at; pages of them are cached under it.
    version: int | None = None

    def __len__(self):
        return len(self.ids)

    @property
    def terms(self) -> list[str]:
        """Normalised strings to highlight: each group's words, else its pieces."""
        terms = []
        for group in self.groups:
            terms.append(group.surface)
            terms.extend(tokenize.surface(token) for token in group.tokens)
        return sorted({t for t in terms if t}, key=len, reverse=True)

    def questions(self) -> "ResultQuestions":
        return ResultQuestions(self)


class ResultQuestions(Sequence):
    """The results as a sequence of questions, loaded one page at a time.

    Django's Paginator slices it, so only the shown page is read from the
    database (one query, plus one for the tags). A page, with its snippets, is
    cached under the index version like the ids; a cached page costs one query,
    which reads the view counts (they change without touching the index) and
    drops questions unpublished by a bulk update since the ranking."""

    def __init__(self, results: SearchResults):
        self.results = results

    def __len__(self):
        return len(self.results.ids)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        ids = self.results.ids[index]
        if not ids:
            return []
        key = None
        if self.results.version is not None:
            key = _cache_key("page", self.results.version, self.results.terms, ids)
            found = cache.get(key)
            if found is not None:
                # By id alone: filtering on is_published in SQL makes SQLite scan
                # every published question through its (is_published, views) index.
                rows = Question.objects.filter(pk__in=ids).values_list("pk", "views", "is_published")
                views = {pk: count for pk, count, published in rows if published}
                for question in found:
                    question.views = views.get(question.pk, question.views)
                return [question for question in found if question.pk in views]
        found = self._load(ids)
        if key is not None:
            cache.set(key, found, _RESULTS_CACHE_SECONDS)
        return found

    def _load(self, ids: list[int]) -> list[Question]:
        by_id = Question.objects.for_listing().defer(*_UNSHOWN_FIELDS).in_bulk(ids)
        found = [by_id[pk] for pk in ids if pk in by_id]
        terms = self.results.terms
        for question in found:
            question.title_highlighted = highlight(question.title, terms)
            question.snippet = snippet(
                plain_text(question.body_html) + " " + plain_text(question.answer_html), terms
            )
        return found


@dataclass
class ListedPage:
    """One page of search results as the API lists them: plain data, so it can be cached.

    Each item has ``id``, ``title``, ``url`` (a path: the host is the request's),
    ``tags``, ``views`` and ``created`` (ISO 8601)."""

    version: int | None
    count: int
    number: int
    pages: int
    items: list[dict]

    def with_views(self, views: dict[int, int]) -> "ListedPage":
        """A copy with current view counts, leaving out questions absent from ``views``."""
        items = [{**item, "views": views[item["id"]]} for item in self.items if item["id"] in views]
        return ListedPage(self.version, self.count, self.number, self.pages, items)


def listed_page(params) -> ListedPage:
    """The page of results that ``params`` (``q``, ``tag``, ``page``) asks for, as the API lists it.

    Raises ``PageNotAnInteger`` or ``EmptyPage`` as ``Paginator.page`` does.
    Pages are cached under the parameters as given and stamped with the index
    version they were listed at. Serving one again costs one query, which reads
    the current version (every edit, import or deletion bumps it, whichever
    process made it) with the view counts and publication of the page's
    questions; any other version means searching again."""
    number = params.get("page") or 1
    key = _cache_key("listed", 0, params.get("q", "").strip(), params.get("tag", "").strip(), str(number))
    cached = cache.get(key)
    if cached is not None:
        version, views = _version_and_views([item["id"] for item in cached.items])
        if version == cached.version:
            return cached.with_views(views)
    results = search_request(params)
    paginator = Paginator(results.ids, settings.ZHIKU_PAGE_SIZE)
    page = paginator.page(number)
    listed = ListedPage(
        version=results.version,
        count=paginator.count,
        number=page.number,
        pages=paginator.num_pages,
        items=_listed_items(page.object_list),
    )
    if listed.version is not None:
        cache.set(key, listed, _RESULTS_CACHE_SECONDS)
    return listed


def _listed_items(ids: list[int]) -> list[dict]:
    """The published questions of ``ids`` as ``ListedPage`` items, in that order: two queries.

    Plain rows rather than model instances with prefetched tags, and one
    reversed URL rather than one per question: this runs on every first search."""
    if not ids:
        return []
    rows = Question.objects.filter(pk__in=ids).values_list(
        "pk", "title", "slug", "views", "created", "is_published"
    )
    by_id = {row[0]: row for row in rows if row[-1]}
    tags = defaultdict(list)
    tagged = Question.tags.through.objects.filter(question_id__in=ids).order_by("tag__name")
    for pk, name in tagged.values_list("question_id", "tag__name"):
        tags[pk].append(name)
    # Every question URL is this one with another id and slug, quoted the way reverse() does.
    sample = reverse("qa:detail", kwargs={"pk": 1, "slug": "q"})
    prefix = sample.removesuffix("1/q/")
    items = []
    for pk in ids:
        if pk not in by_id:
            continue
        _pk, title, slug, views, created, _published = by_id[pk]
        path = prefix + quote(f"{pk}/{slug or 'q'}/", safe=RFC3986_SUBDELIMS + "/~:@")
        items.append(
            {
                "id": pk,
                "title": title,
                "url": path,
                "tags": tags[pk],
                "views": views,
                "created": created.isoformat(),
            }
        )
    return items


def _version_and_views(ids: list[int]) -> tuple[int, dict[int, int]]:
    """The index version, and the views of those of ``ids`` still published: one query.

    Written as SQL because this is all a repeated API search does, and building
    the same statement through the ORM took longer than running it."""
    question, term = Question._meta.db_table, SearchTerm._meta.db_table
    marks = ", ".join(["%s"] * len(ids)) or "NULL"
    # Question ids start at 1, so 0 can label the version row. Publication is
    # checked here rather than in SQL, where SQLite would walk its
    # (is_published, views) index over every published question instead of
    # looking up twenty ids.
    sql = (
        f"SELECT id, views, is_published FROM {question} WHERE id IN ({marks}) "  # noqa: S608
        f"UNION ALL SELECT 0, df, %s FROM {term} WHERE term = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, True, VERSION])
        found = {pk: views for pk, views, published in cursor.fetchall() if published}
    return found.pop(0, 0), found


def find_tag(value: str) -> Tag | None:
    """The tag a ``tag`` parameter names, by slug or case-insensitive name."""
    value = (value or "").strip()
    if not value:
        return None
    return Tag.objects.filter(slug=value).first() or Tag.objects.filter(name__iexact=value).first()


def search_request(params) -> SearchResults:
    """``search`` for a request's ``q`` and ``tag`` (an unknown tag finds nothing)."""
    query = params.get("q", "").strip()
    tag_value = params.get("tag", "").strip()
    tag = find_tag(tag_value)
    if not query or (tag_value and tag is None):
        return SearchResults(query=query, groups=[], ids=[])
    return search(query, tag=tag)


def search(query: str, *, tag: Tag | None = None, engine=None) -> SearchResults:
    """Published questions matching ``query``, best first (at most ``CANDIDATES``).

    Any string is safe: it is reduced to word tokens before it reaches SQL.
    ``tag`` narrows the results to one tag; ``engine`` is for tests.
    Results are cached per index version and query words, so a repeated
    search costs one small query (the vocabulary rows it reads anyway, which
    include the version) until the index changes."""
    groups = tokenize.parse_query(query or "")
    if not groups:
        return SearchResults(query=query, groups=[], ids=[])
    tag_id = tag.pk if tag is not None else None
    df = _frequencies(groups)
    if engine is not None:
        groups, ids = _search(groups, df, tag_id, engine)
        return SearchResults(query=query, groups=groups, ids=ids)
    version = df.get(VERSION, 0)
    key = _cache_key("ids", version, tag_id, [(group.surface, group.tokens) for group in groups])
    found = cache.get(key)
    if found is None:
        found = _search(groups, df, tag_id, backend())
        cache.set(key, found, _RESULTS_CACHE_SECONDS)
    groups, ids = found
    return SearchResults(query=query, groups=groups, ids=ids, version=version)


def _cache_key(kind: str, version: int, *parts) -> str:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"qa:search:{kind}:{version}:{digest}"


def _frequencies(groups: list[Group]) -> dict[str, int]:
    """Document frequency of every token of ``groups``, plus ``DOCS`` and ``VERSION``: one query."""
    wanted = {DOCS, VERSION}
    for group in groups:
        wanted.add(tokenize.encode(group.surface))
        wanted.update(group.tokens)
    return dict(SearchTerm.objects.filter(term__in=wanted).values_list("term", "df"))


def _search(groups: list[Group], df: dict[str, int], tag_id: int | None, engine):
    """(groups as resolved, ranked ids) for parsed query ``groups``."""
    groups, weights, typed = _resolve(groups, df)
    if not groups:
        return [], []

    ids = _ordered(engine, groups, tag_id, CANDIDATES)
    if any(typed):
        # A rare word was widened to its common spelling: the documents with the
        # word as typed stay among the candidates however many have the other.
        as_typed = [exact[0] if exact else group for group, exact in zip(groups, typed, strict=True)]
        ids = list(dict.fromkeys(_ordered(engine, as_typed, tag_id, CANDIDATES) + ids))[:CANDIDATES]
    if not ids and len(groups) > 1:
        # Nothing has every word: gather documents for each word, rarest first.
        share = max(CANDIDATES // len(groups), 10)
        by_rarity = sorted(zip(weights, range(len(groups)), strict=True), reverse=True)
        for _weight, i in by_rarity:
            ids.extend(_ordered(engine, [groups[i]], tag_id, share))
        ids = list(dict.fromkeys(ids))
    return groups, _rank(ids, groups, weights, typed)


def _ordered(engine, groups: list[Group], tag_id: int | None, limit: int) -> list[int]:
    """Matching ids: title matches first, then the rest; newest first within each."""
    return engine.match_title_first(groups, tag_id=tag_id, limit=limit)


def _resolve(groups: list[Group], df: dict[str, int]):
    """Drop groups the index cannot match, correct typos, and weigh each group by rarity.

    Returns the groups to match, their weights, and for each group widened
    from a rare but indexed word to a common spelling of it, the group as typed
    with its own (higher) weight, else None. An index can hold a typo itself
    (one answer misspelling "transformer"), and matching only that would hide
    every question spelled right."""
    total = max(df.get(DOCS, 0), 1)

    def rarity(frequency: int) -> float:
        return math.log(1 + (total - frequency + 0.5) / (frequency + 0.5))

    resolved, weights, typed = [], [], []
    for group in groups:
        counts = [df.get(token, 0) for token in group.tokens]
        exact = None
        if min(counts) <= 0:
            if not group.is_ascii_word:
                continue
            alternatives = _corrections(group.surface)
            if not alternatives:
                continue
            group = group.with_alternatives([term for term, _count in alternatives])
            frequency = max(count for _term, count in alternatives)
        else:
            frequency = df.get(tokenize.encode(group.surface)) or min(counts)
            if group.is_ascii_word and frequency <= RARE_WORD_DF:
                least = max(COMMON_SPELLING_DF, COMMON_SPELLING_RATIO * frequency)
                alternatives = _corrections(group.surface, min_count=least)
                if alternatives:
                    exact = (group, rarity(frequency))
                    group = group.with_alternatives([*group.tokens, *(term for term, _count in alternatives)])
                    frequency = max(count for _term, count in alternatives)
        resolved.append(group)
        weights.append(rarity(frequency))
        typed.append(exact)
    return resolved, weights, typed


def _corrections(word: str, limit: int = 3, min_count: int = 1) -> list[tuple[str, int]]:
    """Other indexed English words, in at least ``min_count`` documents, within a
    small edit distance of ``word``.

    Candidates share the first letter (typos rarely hit it) and a similar
    length, which an index range scan on ``term`` finds without reading the
    whole vocabulary."""
    from rapidfuzz.distance import Levenshtein

    allowed = 1 if len(word) <= 5 else 2
    first = word[0]
    candidates = SearchTerm.objects.filter(
        term__gte=first, term__lt=chr(ord(first) + 1), df__gte=max(min_count, 1)
    ).exclude(term=word)
    scored = []
    for term, count in candidates.values_list("term", "df").iterator(chunk_size=2000):
        if abs(len(term) - len(word)) > allowed or not term.isalpha():
            continue
        distance = Levenshtein.distance(word, term, score_cutoff=allowed)
        if distance <= allowed:
            scored.append((distance, -count, term))
    if not scored:
        return []
    # Only the closest spellings: a second-best guess would add noise, not answers.
    best = min(distance for distance, _count, _term in scored)
    closest = sorted(item for item in scored if item[0] == best)[:limit]
    return [(term, -negative) for _d, negative, term in closest]


def _rank(ids: list[int], groups: list[Group], weights: list[float], typed: list) -> list[int]:
    if not ids:
        return []
    texts = SearchDocument.objects.filter(pk__in=ids, question__is_published=True).values_list(
        "question_id", "title_text", "body_text"
    )
    scored = []
    for pk, title, body in texts:
        coverage = title_hits = score = 0.0
        for group, weight, exact in zip(groups, weights, typed, strict=True):
            if exact and (exact[0].matches_text(title) or exact[0].matches_text(body)):
                # The word as typed scores as it did before it was widened, above its respelling.
                group, weight = exact
            in_title = group.matches_text(title)
            in_body = group.matches_text(body)
            if not (in_title or in_body):
                continue
            coverage += weight
            title_hits += in_title
            frequency = group.count_in(body)
            body_part = frequency / (frequency + 1.2) if frequency else (0.25 if in_body else 0.0)
            score += weight * ((_TITLE_WEIGHT if in_title else 0.0) + body_part)
        scored.append((-round(coverage, 9), -title_hits, -round(score, 9), -pk))
    return [-key[-1] for key in sorted(scored)]
