"""Full-text search over published questions (SPEC §6).

``search(query, tag=...)`` (also ``Question.objects.search``) is the one public
entry point; ``search_request`` reads a request's ``q`` and ``tag``. The package
(``docs/search.md`` says more):

* ``tokenize``: normalising text, segmenting Chinese (jieba, with the words of
  ``dictionary.txt`` and the tag names), parsing queries into groups;
* ``index``: writing the index on save, delete and tag change (``connect()``),
  and ``rebuild_index`` for ``manage.py rebuild_search_index``;
* ``backends``: the FTS5 (SQLite) and tsvector (PostgreSQL) engines, the only
  code that knows the database vendor, and a pure-Python reference for tests;
* ``ranking``: candidates from the engine, ranked in Python by one formula;
* ``results``: ``SearchResults`` and their pages of highlighted questions;
* ``highlight``: ``<mark>``-ed titles and snippets;
* ``listing``: the API's cached pages of results;
* ``related``: similar questions for the question page.

Every search cache keys on the content version (``qa.freshness``).
"""

import functools

from django.core.cache import cache

from qa import freshness
from qa.models import SearchTerm, Tag
from qa.search import meaning, synonyms, tokenize
from qa.search.backends import backend
from qa.search.index import DOCS
from qa.search.meaning import enabled as meaning_enabled
from qa.search.ranking import ranked
from qa.search.results import CACHE_SECONDS, SearchResults, cache_key
from qa.search.tokenize import Group

__all__ = ["SearchResults", "search", "search_request"]


def forget_process_state() -> None:
    """Drop what this process keeps per content version (synonyms, vectors, suggestions):
    tests roll the database back, so version numbers come round again."""
    from qa.search import suggest

    synonyms.forget()
    meaning.INDEX.forget()
    suggest.INDEX.forget()


def search(
    query: str, *, tag: Tag | None = None, engine=None, by_meaning: bool | None = None
) -> SearchResults:
    """Published questions matching ``query``, best first (at most ``ranking.CANDIDATES``).

    Any string is safe: it is reduced to word tokens before it reaches SQL.
    ``tag`` narrows the results to one tag; ``engine`` is for tests; ``by_meaning``
    overrides ``ZHIKU_SEMANTIC_SEARCH`` (questions found by meaning, fused with
    the lexical ranking, see ``qa.search.meaning``). Results are cached per
    content version and query text, so a repeated search costs one small
    query (the vocabulary rows it reads anyway, with the version) until the
    content changes."""
    plain = tokenize.parse_query(query or "")
    if not plain:
        return SearchResults(query=query, groups=[], ids=[])
    tag_id = tag.pk if tag is not None else None
    df, version = _vocabulary(plain)
    use_meaning = meaning_enabled() if by_meaning is None else by_meaning
    key = cache_key("ids", version, tag_id, use_meaning, tokenize.query_key(query))
    found = cache.get(key) if engine is None else None
    if found is None:
        groups, ids, leading = _ranked(query, plain, df, version, tag_id, engine or backend())
        if use_meaning and meaning.worth_asking(query, leading):
            ids = meaning.fused(query, ids, tag_id=tag_id, version=version, leading=leading)
        found = (groups, ids)
        if engine is None:
            cache.set(key, found, CACHE_SECONDS)
    groups, ids = found
    return SearchResults(query=query, groups=groups, ids=ids, version=None if engine else version)


def lexical(query: str, *, tag: Tag | None = None) -> tuple[list[int], int]:
    """(ids ranked by words alone, how many lead with the whole query in the title), uncached:
    for benchmarks that fuse them with other rankings."""
    plain = tokenize.parse_query(query or "")
    if not plain:
        return [], 0
    df, version = _vocabulary(plain)
    _groups, ids, leading = _ranked(query, plain, df, version, tag.pk if tag else None, backend())
    return ids, leading


def _ranked(query: str, plain: list[Group], df: dict, version: int, tag_id: int | None, engine):
    groups = tokenize.parse_query(query, synonyms.for_version(version, df.get(synonyms.SYNONYMS, 0)))
    missing = {token for group in groups for token in group.all_tokens} - df.keys() - _known_absent(plain)
    if missing:
        df.update(SearchTerm.objects.filter(term__in=missing).values_list("term", "df"))
    return ranked(groups, df, tag_id, engine)


def _known_absent(groups: list[Group]) -> set[str]:
    """Tokens the vocabulary query asked for already (absent ones are not asked again)."""
    return {token for group in groups for token in group.tokens}


def _vocabulary(groups: list[Group]) -> tuple[dict[str, int], int]:
    """Document frequency of every token of ``groups`` and of ``DOCS``, and the
    content version: one query (two on an empty index)."""
    wanted = {DOCS, synonyms.SYNONYMS}
    for group in groups:
        wanted.add(tokenize.encode(group.surface))
        wanted.update(group.tokens)
    found = list(_frequencies_and_version().filter(term__in=wanted))
    df = {term: count for term, count, _version in found}
    # Every row carries the version; without rows (nothing indexed) it is read on its own.
    return df, found[0][2] if found else freshness.current()


@functools.cache
def _frequencies_and_version():
    # Built once per process (never evaluated itself), like listing's views query.
    return SearchTerm.objects.annotate(version=freshness.subquery()).values_list("term", "df", "version")


def _find_tag(value: str) -> Tag | None:
    """The tag a ``tag`` parameter names, by slug or case-insensitive name."""
    value = (value or "").strip()
    if not value:
        return None
    return Tag.objects.filter(slug=value).first() or Tag.objects.filter(name__iexact=value).first()


def search_request(params) -> SearchResults:
    """``search`` for a request's ``q`` and ``tag`` (an unknown tag finds nothing)."""
    query = params.get("q", "").strip()
    tag_value = params.get("tag", "").strip()
    tag = _find_tag(tag_value)
    if not query or (tag_value and tag is None):
        return SearchResults(query=query, groups=[], ids=[])
    return search(query, tag=tag)
