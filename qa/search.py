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

The index is written by ``index_question`` (called from ``qa.signals`` on save,
delete and tag changes) and rebuilt by ``manage.py rebuild_search_index``.
"""

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from qa import tokenize
from qa.markdown import plain_text
from qa.models import Question, SearchDocument, SearchTerm, Tag
from qa.tokenize import Group

tokenize.set_cache_dir(settings.VAR_DIR / "jieba")

DOCS = "#docs"
VERSION = "#version"
# Documents ranked per query; result lists stop here (nobody pages past 10 pages).
CANDIDATES = 200
FTS_TABLE = "qa_search_fts"
_CHUNK = 500
_TITLE_WEIGHT = 2.0


# --- Backends ---------------------------------------------------------------------


class _SQLMatching:
    """Running the ``match_sql`` of a backend, alone or several in one statement."""

    def match(self, groups: list[Group], *, title_only: bool, tag_id: int | None, limit: int) -> list[int]:
        sql, params = self.match_sql(groups, title_only=title_only, tag_id=tag_id, limit=limit)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    def match_each(self, groups: list[Group], *, limit: int) -> list[tuple[int, int]]:
        """(group index, id) for up to ``limit`` newest matches of each group: one query."""
        if not groups:
            return []
        selects, params = [], []
        for i, group in enumerate(groups):
            sql, group_params = self.match_sql([group], title_only=False, tag_id=None, limit=limit)
            selects.append(f"SELECT {i} AS k, m{i}.id FROM ({sql}) AS m{i}")  # noqa: S608 - placeholders only
            params.extend(group_params)
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            return [(row[0], row[1]) for row in cursor.fetchall()]


class SQLiteBackend(_SQLMatching):
    """FTS5 table ``qa_search_fts(title, body)``, rowid = question id."""

    def write(self, cursor, pk: int, title_tokens: list[str], body_tokens: list[str]) -> None:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [pk])  # noqa: S608
        cursor.execute(
            f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (%s, %s, %s)",  # noqa: S608
            [pk, " ".join(title_tokens), " ".join(body_tokens)],
        )

    def delete(self, cursor, pk: int) -> None:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [pk])  # noqa: S608

    def clear(self, cursor) -> None:
        cursor.execute(f"DELETE FROM {FTS_TABLE}")  # noqa: S608

    def match_sql(self, groups: list[Group], *, title_only: bool, tag_id: int | None, limit: int):
        # Tokens are [a-z0-9]/ideographs only (tokenize.encode), so quoting them is enough.
        parts = []
        for group in groups:
            joiner = " OR " if group.any_of else " AND "
            parts.append("(" + joiner.join(f'"{token}"' for token in group.tokens) + ")")
        expression = " AND ".join(parts)
        if title_only:
            expression = f"title : ({expression})"
        sql = f"SELECT rowid AS id FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608
        params: list = [expression]
        if tag_id is not None:
            sql += " AND rowid IN (SELECT question_id FROM qa_question_tags WHERE tag_id = %s)"
            params.append(tag_id)
        return sql + " ORDER BY rowid DESC LIMIT %s", [*params, limit]


class PostgresBackend(_SQLMatching):
    """``qa_searchdocument.search_vector`` (tsvector, GIN): title tokens weighted A.

    Vectors and queries are built from our own tokens with the tsvector/tsquery
    input syntax rather than a text search parser, whose idea of a word depends
    on the database's locale and would drop or split Chinese text."""

    def write(self, cursor, pk: int, title_tokens: list[str], body_tokens: list[str]) -> None:
        cursor.execute(
            "UPDATE qa_searchdocument SET search_vector = setweight(%s::tsvector, 'A') || %s::tsvector "
            "WHERE question_id = %s",
            [_tsvector_text(title_tokens), _tsvector_text(body_tokens), pk],
        )

    def delete(self, cursor, pk: int) -> None:
        """The vector goes with its SearchDocument row."""

    def clear(self, cursor) -> None:
        """The vectors go with the SearchDocument rows."""

    def match_sql(self, groups: list[Group], *, title_only: bool, tag_id: int | None, limit: int):
        weight = ":A" if title_only else ""
        parts = []
        for group in groups:
            joiner = " | " if group.any_of else " & "
            parts.append("(" + joiner.join(f"'{token}'{weight}" for token in group.tokens) + ")")
        sql = "SELECT question_id AS id FROM qa_searchdocument WHERE search_vector @@ %s::tsquery"
        params: list = [" & ".join(parts)]
        if tag_id is not None:
            sql += " AND question_id IN (SELECT question_id FROM qa_question_tags WHERE tag_id = %s)"
            params.append(tag_id)
        return sql + " ORDER BY question_id DESC LIMIT %s", [*params, limit]


def _tsvector_text(tokens: list[str]) -> str:
    # Positions are needed for weights to stick; tsvector allows at most 16383.
    return " ".join(f"'{token}':{min(i, 16383)}" for i, token in enumerate(tokens, start=1))


class PythonBackend:
    """Reference matcher over the stored token lists: no full-text engine.

    Tests compare the real backends against it; it reads every document, so it
    is never used to serve requests."""

    def match(self, groups: list[Group], *, title_only: bool, tag_id: int | None, limit: int) -> list[int]:
        documents = SearchDocument.objects.order_by("-question_id")
        if tag_id is not None:
            documents = documents.filter(question__tags=tag_id)
        found = []
        for pk, title_tokens, body_tokens in documents.values_list(
            "question_id", "title_tokens", "body_tokens"
        ):
            tokens = set(title_tokens.split())
            if not title_only:
                tokens.update(body_tokens.split())
            if all(_group_in(group, tokens) for group in groups):
                found.append(pk)
                if len(found) == limit:
                    break
        return found

    def match_each(self, groups: list[Group], *, limit: int) -> list[tuple[int, int]]:
        return [
            (i, pk)
            for i, group in enumerate(groups)
            for pk in self.match([group], title_only=False, tag_id=None, limit=limit)
        ]


def _group_in(group: Group, tokens: set[str]) -> bool:
    if group.any_of:
        return any(token in tokens for token in group.any_of)
    return all(token in tokens for token in group.all_of)


def backend():
    if connection.vendor == "postgresql":
        return PostgresBackend()
    return SQLiteBackend()


# --- Writing the index ----------------------------------------------------------------


def document_texts(*, title: str, body_html: str, answer_html: str, tag_names: Iterable[str]):
    """Normalised (title, body) text of a question; tags count as body text."""
    body = " ".join([plain_text(body_html), plain_text(answer_html), *tag_names])
    return tokenize.normalize(title), tokenize.normalize(body)


def index_question(question: Question) -> None:
    """Bring the index entry of ``question`` up to date (removing it when unpublished)."""
    if not question.is_published:
        remove_question(question.pk)
        return
    title, body = document_texts(
        title=question.title,
        body_html=question.body_html,
        answer_html=question.answer_html,
        tag_names=question.tags.values_list("name", flat=True),
    )
    title_tokens = tokenize.document_tokens(title)
    body_tokens = tokenize.document_tokens(body)
    with transaction.atomic():
        old = SearchDocument.objects.filter(pk=question.pk).values_list("title_tokens", "body_tokens").first()
        old_tokens = set(" ".join(old).split()) if old else set()
        new_tokens = {*title_tokens, *body_tokens}
        SearchDocument.objects.update_or_create(
            question_id=question.pk,
            defaults={
                "title_text": title,
                "body_text": body,
                "title_tokens": " ".join(title_tokens),
                "body_tokens": " ".join(body_tokens),
            },
        )
        with connection.cursor() as cursor:
            backend().write(cursor, question.pk, title_tokens, body_tokens)
        _adjust_vocabulary(new_tokens - old_tokens, old_tokens - new_tokens, docs=0 if old else 1)


def remove_question(pk: int) -> None:
    """Take one question out of the index (unpublished or deleted)."""
    with transaction.atomic():
        old = SearchDocument.objects.filter(pk=pk).values_list("title_tokens", "body_tokens").first()
        if old is None:
            return
        with connection.cursor() as cursor:
            backend().delete(cursor, pk)
        SearchDocument.objects.filter(pk=pk).delete()
        _adjust_vocabulary(set(), set(" ".join(old).split()), docs=-1)


def _chunks(items: list, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _adjust_vocabulary(added: set[str], removed: set[str], *, docs: int) -> None:
    SearchTerm.objects.bulk_create(
        [SearchTerm(term=term, df=0) for term in [DOCS, VERSION, *added]],
        ignore_conflicts=True,
        batch_size=_CHUNK,
    )
    for chunk in _chunks(sorted(added)):
        SearchTerm.objects.filter(term__in=chunk).update(df=F("df") + 1)
    for chunk in _chunks(sorted(removed)):
        SearchTerm.objects.filter(term__in=chunk).update(df=F("df") - 1)
    if docs:
        SearchTerm.objects.filter(term=DOCS).update(df=F("df") + docs)
    # Anything derived from the index (cached related questions) keys on this.
    SearchTerm.objects.filter(term=VERSION).update(df=F("df") + 1)


def index_version() -> int:
    """Changes whenever the index does; shared by every process through the database."""
    return SearchTerm.objects.filter(term=VERSION).values_list("df", flat=True).first() or 0


@dataclass
class SourceQuestion:
    pk: int
    title: str
    body_html: str
    answer_html: str
    tag_names: list[str] = field(default_factory=list)


def rebuild_index(questions: Iterable[SourceQuestion]) -> int:
    """Replace the whole index with entries for ``questions`` (the published ones).

    Used by ``rebuild_search_index`` and by the migration that creates the
    index; takes plain data so that a migration can feed it historical rows."""
    documents = []
    vocabulary: Counter[str] = Counter()
    for source in questions:
        title, body = document_texts(
            title=source.title,
            body_html=source.body_html,
            answer_html=source.answer_html,
            tag_names=source.tag_names,
        )
        title_tokens = tokenize.document_tokens(title)
        body_tokens = tokenize.document_tokens(body)
        vocabulary.update({*title_tokens, *body_tokens})
        documents.append((source.pk, title, body, title_tokens, body_tokens))

    engine = backend()
    with transaction.atomic():
        with connection.cursor() as cursor:
            engine.clear(cursor)
        SearchDocument.objects.all().delete()
        SearchTerm.objects.exclude(term=VERSION).delete()
        for chunk in _chunks(documents):
            SearchDocument.objects.bulk_create(
                SearchDocument(
                    question_id=pk,
                    title_text=title,
                    body_text=body,
                    title_tokens=" ".join(title_tokens),
                    body_tokens=" ".join(body_tokens),
                )
                for pk, title, body, title_tokens, body_tokens in chunk
            )
            with connection.cursor() as cursor:
                for pk, _title, _body, title_tokens, body_tokens in chunk:
                    engine.write(cursor, pk, title_tokens, body_tokens)
        vocabulary[DOCS] = len(documents)
        SearchTerm.objects.bulk_create(
            (SearchTerm(term=term, df=df) for term, df in vocabulary.items()), batch_size=_CHUNK
        )
        _adjust_vocabulary(set(), set(), docs=0)
    return len(documents)


def published_sources() -> Iterable[SourceQuestion]:
    questions = Question.objects.published().prefetch_related("tags").order_by("pk")
    for question in questions.iterator(chunk_size=1000):
        yield SourceQuestion(
            pk=question.pk,
            title=question.title,
            body_html=question.body_html,
            answer_html=question.answer_html,
            tag_names=[tag.name for tag in question.tags.all()],
        )


# --- Searching ------------------------------------------------------------------------------


@dataclass
class SearchResults:
    """Ranked ids of one search, and what to highlight in them."""

    query: str
    groups: list[Group]
    ids: list[int]

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

    def questions(self, *, snippets: bool = True) -> "ResultQuestions":
        return ResultQuestions(self, snippets=snippets)


class ResultQuestions(Sequence):
    """The results as a sequence of questions, loaded one page at a time.

    Django's Paginator slices it, so only the shown page is read from the
    database (one query, plus one for the tags)."""

    def __init__(self, results: SearchResults, *, snippets: bool = True):
        self.results = results
        self.snippets = snippets

    def __len__(self):
        return len(self.results.ids)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        ids = self.results.ids[index]
        by_id = Question.objects.for_listing().in_bulk(ids)
        found = [by_id[pk] for pk in ids if pk in by_id]
        if not self.snippets:
            return found
        terms = self.results.terms
        for question in found:
            question.title_highlighted = highlight(question.title, terms)
            question.snippet = snippet(
                plain_text(question.body_html) + " " + plain_text(question.answer_html), terms
            )
        return found


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
    ``tag`` narrows the results to one tag; ``engine`` is for tests."""
    engine = engine or backend()
    groups = tokenize.parse_query(query or "")
    if not groups:
        return SearchResults(query=query, groups=[], ids=[])
    groups, weights = _resolve(groups)
    if not groups:
        return SearchResults(query=query, groups=[], ids=[])
    tag_id = tag.pk if tag is not None else None

    ids = _ordered(engine, groups, tag_id, CANDIDATES)
    if not ids and len(groups) > 1:
        # Nothing has every word: gather documents for each word, rarest first.
        share = max(CANDIDATES // len(groups), 10)
        by_rarity = sorted(zip(weights, range(len(groups)), strict=True), reverse=True)
        for _weight, i in by_rarity:
            ids.extend(_ordered(engine, [groups[i]], tag_id, share))
        ids = list(dict.fromkeys(ids))
    return SearchResults(query=query, groups=groups, ids=_rank(ids, groups, weights))


def _ordered(engine, groups: list[Group], tag_id: int | None, limit: int) -> list[int]:
    """Matching ids: title matches first, then the rest; newest first within each."""
    in_title = engine.match(groups, title_only=True, tag_id=tag_id, limit=limit)
    anywhere = engine.match(groups, title_only=False, tag_id=tag_id, limit=limit)
    return list(dict.fromkeys(in_title + anywhere))[:limit]


def _resolve(groups: list[Group]) -> tuple[list[Group], list[float]]:
    """Drop groups the index cannot match, correct typos, and weigh each group by rarity."""
    wanted = {DOCS}
    for group in groups:
        wanted.add(tokenize.encode(group.surface))
        wanted.update(group.tokens)
    df = dict(SearchTerm.objects.filter(term__in=wanted).values_list("term", "df"))
    total = max(df.get(DOCS, 0), 1)

    resolved, weights = [], []
    for group in groups:
        counts = [df.get(token, 0) for token in group.tokens]
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
        resolved.append(group)
        weights.append(math.log(1 + (total - frequency + 0.5) / (frequency + 0.5)))
    return resolved, weights


def _corrections(word: str, limit: int = 3) -> list[tuple[str, int]]:
    """Indexed English words within a small edit distance of an unknown ``word``.

    Candidates share the first letter (typos rarely hit it) and a similar
    length, which an index range scan on ``term`` finds without reading the
    whole vocabulary."""
    from rapidfuzz.distance import Levenshtein

    allowed = 1 if len(word) <= 5 else 2
    first = word[0]
    candidates = SearchTerm.objects.filter(term__gte=first, term__lt=chr(ord(first) + 1), df__gt=0)
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


def _rank(ids: list[int], groups: list[Group], weights: list[float]) -> list[int]:
    if not ids:
        return []
    texts = SearchDocument.objects.filter(pk__in=ids, question__is_published=True).values_list(
        "question_id", "title_text", "body_text"
    )
    scored = []
    for pk, title, body in texts:
        coverage = title_hits = score = 0.0
        for group, weight in zip(groups, weights, strict=True):
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


# --- Showing results --------------------------------------------------------------------------


# Snippets come from the start of the text; reading further costs time for little gain.
_SNIPPET_SCAN = 3000


def _spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where ``terms`` occur in ``text``, ignoring case and, failing that, traditional forms."""
    if not terms:
        return []
    pattern = re.compile("|".join(re.escape(term) for term in terms))
    for fold in (str.lower, lambda value: tokenize.to_simplified(value).lower()):
        folded = fold(text)
        if len(folded) != len(text):  # a fold that moves offsets cannot place marks
            continue
        spans = [m.span() for m in pattern.finditer(folded) if m.end() > m.start()]
        if spans:
            return spans
    return []


def highlight(text: str, terms: list[str]) -> SafeString:
    """``text`` HTML-escaped, with every match of ``terms`` wrapped in ``<mark>``."""
    pieces, last = [], 0
    for start, end in _spans(text, terms):
        pieces.append(escape(text[last:start]))
        pieces.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    pieces.append(escape(text[last:]))
    return mark_safe("".join(pieces))  # noqa: S308 - every piece is escaped above


def snippet(text: str, terms: list[str], length: int = 160) -> SafeString:
    """About ``length`` characters of ``text`` around its first match, highlighted."""
    text = text[:_SNIPPET_SCAN]
    spans = _spans(text, terms)
    start = max(0, spans[0][0] - length // 4) if spans else 0
    piece = text[start : start + length]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + length < len(text) else ""
    return mark_safe(prefix + highlight(piece, terms) + suffix)  # noqa: S308 - highlight escapes


# --- Related questions ----------------------------------------------------------------------

SIMILAR_KEPT = 10
_SIMILAR_TERMS = 12
_TAG_WEIGHT = 3.0
_SIMILAR_CACHE_SECONDS = 24 * 3600


def similar_to(question_pk: int, tag_ids: list[int]) -> list[tuple[int, list[str]]]:
    """Up to ``SIMILAR_KEPT`` (id, shared words) of questions most like this one.

    Shared tags weigh most, then shared words weighted by rarity (a word few
    questions use says more than a common one, as in Question2Answer). Cached
    per index version, which every index write bumps, so an edit anywhere
    refreshes it in every process."""
    from django.core.cache import cache

    key = f"qa:similar:{question_pk}:{index_version()}"
    found = cache.get(key)
    if found is None:
        found = _compute_similar(question_pk, tag_ids)
        cache.set(key, found, _SIMILAR_CACHE_SECONDS)
    return found


def _compute_similar(question_pk: int, tag_ids: list[int]) -> list[tuple[int, list[str]]]:
    documents = SearchDocument.objects.filter(pk=question_pk)
    document = documents.values_list("title_tokens", "body_tokens").first()
    scores: Counter[int] = Counter()
    if tag_ids:
        shared_tags = (
            Question.tags.through.objects.filter(tag_id__in=tag_ids, question__is_published=True)
            .exclude(question_id=question_pk)
            .values_list("question_id", flat=True)
        )
        for pk in shared_tags[:2000]:
            scores[pk] += _TAG_WEIGHT

    shared_words: dict[int, list[str]] = {}
    if document is not None:
        title_tokens = set(document[0].split())
        tokens = [t for t in dict.fromkeys(document[0].split() + document[1].split()) if len(t) > 1]
        df = dict(SearchTerm.objects.filter(term__in=[*tokens, DOCS]).values_list("term", "df"))
        total = max(df.get(DOCS, 1), 1)
        # Rarest words that at least one other question shares.
        rare = sorted((df[t], t) for t in tokens if 2 <= df.get(t, 0) < max(total, 3))[:_SIMILAR_TERMS]
        groups = [Group(surface=tokenize.surface(token), all_of=(token,)) for _count, token in rare]
        weights = [math.log(total / count) * (2.0 if token in title_tokens else 1.0) for count, token in rare]
        for i, pk in backend().match_each(groups, limit=50):
            if pk != question_pk:
                scores[pk] += weights[i]
                shared_words.setdefault(pk, []).append(groups[i].surface)
    best = sorted(scores.items(), key=lambda item: (-round(item[1], 9), -item[0]))[:SIMILAR_KEPT]
    return [(pk, shared_words.get(pk, [])[:3]) for pk, _score in best]
