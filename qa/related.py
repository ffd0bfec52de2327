"""Questions related to a given one, for the "related questions" section (SPEC §6).

Curated links and similar questions are found with one statement per page:
the curated links always, and, when the cache lacks them, the similarity
signals too (shared tags, shared rare words and the questions using them),
written per database because the word lists are split and matched in SQL.
"""

import math
from collections import Counter

from django.db import connection

from qa import tokenize
from qa.search_index import DOCS, index_version

SIMILAR_KEPT = 10
_SIMILAR_TERMS = 12
_MATCHES_PER_TERM = 50
_SHARED_TAG_ROWS = 2000
_TAG_WEIGHT = 3.0
_SIMILAR_CACHE_SECONDS = 24 * 3600

# Every branch yields (kind, question id, term, df, in title, total, position, link id);
# the first one types the NULLs, as PostgreSQL needs for UNION ALL.
_CURATED, _TAG, _WORD = 0, 1, 2

_CURATED_SQL = """
SELECT 0, r.to_question_id, CAST(NULL AS TEXT), CAST(NULL AS INTEGER), CAST(NULL AS INTEGER),
       CAST(NULL AS INTEGER), r.position, r.id
FROM qa_relatedquestion r JOIN qa_question q ON q.id = r.to_question_id
WHERE r.from_question_id = %(pk)s AND q.is_published = %(yes)s
"""

_TAG_SQL = """
SELECT 1, shared.question_id, NULL, NULL, NULL, NULL, NULL, NULL FROM (
    SELECT qt.question_id FROM qa_question_tags qt JOIN qa_question q ON q.id = qt.question_id
    WHERE qt.tag_id IN (SELECT tag_id FROM qa_question_tags WHERE question_id = %(pk)s)
      AND qt.question_id <> %(pk)s AND q.is_published = %(yes)s
    LIMIT %(tag_rows)s
) shared
"""

# The question's distinct words of two or more characters, the rarest that at
# least one other question shares (document frequency from qa_searchterm), and
# the newest questions containing each. Tokens are [a-z0-9]+, ideographs or
# zx+hex (tokenize.encode), so they need no escaping inside the JSON or query text.
_SQLITE_WORDS = """
WITH doc AS (
    SELECT ' ' || title_tokens || ' ' AS title, trim(title_tokens || ' ' || body_tokens) AS words
    FROM qa_searchdocument WHERE question_id = %(pk)s
), total AS (
    SELECT max(coalesce((SELECT df FROM qa_searchterm WHERE term = %(docs)s), 1), 1) AS n
), words AS (
    SELECT DISTINCT j.value AS term, instr(doc.title, ' ' || j.value || ' ') > 0 AS in_title
    FROM doc, json_each('["' || replace(doc.words, ' ', '","') || '"]') j
    WHERE length(j.value) > 1
), rare AS (
    SELECT w.term, s.df, w.in_title, total.n AS total
    FROM words w JOIN qa_searchterm s ON s.term = w.term CROSS JOIN total
    WHERE s.df >= 2 AND s.df < max(total.n, 3)
    ORDER BY s.df, w.term LIMIT %(terms)s
)
SELECT 2, m.id, m.term, m.df, m.in_title, m.total, NULL, NULL FROM (
    SELECT f.rowid AS id, rare.term, rare.df, rare.in_title, rare.total,
           row_number() OVER (PARTITION BY rare.term ORDER BY f.rowid DESC) AS n
    FROM rare JOIN qa_search_fts f ON f.qa_search_fts MATCH '"' || rare.term || '"'
) m WHERE m.n <= %(matches)s
"""

_POSTGRES_WORDS = """
WITH doc AS (
    SELECT ' ' || title_tokens || ' ' AS title, title_tokens || ' ' || body_tokens AS words
    FROM qa_searchdocument WHERE question_id = %(pk)s
), total AS (
    SELECT greatest(coalesce((SELECT df FROM qa_searchterm WHERE term = %(docs)s), 1), 1) AS n
), words AS (
    SELECT DISTINCT w.term, position(' ' || w.term || ' ' IN doc.title) > 0 AS in_title
    FROM doc, unnest(string_to_array(doc.words, ' ')) AS w(term)
    WHERE char_length(w.term) > 1
), rare AS (
    SELECT w.term, s.df, w.in_title, total.n AS total
    FROM words w JOIN qa_searchterm s ON s.term = w.term CROSS JOIN total
    WHERE s.df >= 2 AND s.df < greatest(total.n, 3)
    ORDER BY s.df, w.term COLLATE "C" LIMIT %(terms)s
)
SELECT 2, m.question_id, rare.term, rare.df, rare.in_title::int, rare.total, NULL::int, NULL::int
FROM rare CROSS JOIN LATERAL (
    SELECT question_id FROM qa_searchdocument
    WHERE search_vector @@ ('''' || rare.term || '''')::tsquery
    ORDER BY question_id DESC LIMIT %(matches)s
) m
"""


def related_candidates(
    question_pk: int, *, limit: int, version: int | None = None
) -> tuple[list[int], list[tuple[int, list[str]]]]:
    """Ids of the published curated related questions (at most ``limit``, in
    the editor's order) and the ``similar_to`` list, in one query.

    ``version`` is the search index version when the caller has already read
    it (the question page does, with its state); otherwise it costs a query."""
    from django.core.cache import cache

    key = _similar_key(question_pk, version)
    similar = cache.get(key)
    rows = _candidate_rows(question_pk, with_similar=similar is None)
    curated = [row[1] for row in sorted((r for r in rows if r[0] == _CURATED), key=lambda r: (r[6], r[7]))]
    if similar is None:
        similar = _score(question_pk, rows)
        cache.set(key, similar, _SIMILAR_CACHE_SECONDS)
    return curated[:limit], similar


def similar_to(question_pk: int, version: int | None = None) -> list[tuple[int, list[str]]]:
    """Up to ``SIMILAR_KEPT`` (id, shared words) of questions most like this one.

    Shared tags weigh most, then shared words weighted by rarity (a word few
    questions use says more than a common one, as in Question2Answer). Cached
    per index version, which every index write bumps, so an edit anywhere
    refreshes it in every process."""
    from django.core.cache import cache

    key = _similar_key(question_pk, version)
    similar = cache.get(key)
    if similar is None:
        similar = _score(question_pk, _candidate_rows(question_pk, with_similar=True))
        cache.set(key, similar, _SIMILAR_CACHE_SECONDS)
    return similar


def _similar_key(question_pk: int, version: int | None) -> str:
    return f"qa:similar:{question_pk}:{index_version() if version is None else version}"


def _candidate_rows(question_pk: int, *, with_similar: bool) -> list[tuple]:
    parts = [_CURATED_SQL]
    if with_similar:
        words = _POSTGRES_WORDS if connection.vendor == "postgresql" else _SQLITE_WORDS
        # The WITH clause of the word branch heads the whole compound statement.
        head, _, tail = words.partition("\nSELECT 2,")
        parts = [head + "\n" + _CURATED_SQL, _TAG_SQL, "SELECT 2," + tail]
    params = {
        "pk": question_pk,
        "yes": True,
        "docs": DOCS,
        "terms": _SIMILAR_TERMS,
        "matches": _MATCHES_PER_TERM,
        "tag_rows": _SHARED_TAG_ROWS,
    }
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return cursor.fetchall()


def _score(question_pk: int, rows: list[tuple]) -> list[tuple[int, list[str]]]:
    scores: Counter[int] = Counter()
    for row in rows:
        if row[0] == _TAG:
            scores[row[1]] += _TAG_WEIGHT
    shared_words: dict[int, list[str]] = {}
    # Rarest words first, newest questions first within a word, so the words
    # shown for a question are its rarest shared ones.
    words = sorted((r for r in rows if r[0] == _WORD), key=lambda r: (r[3], r[2], -r[1]))
    for _kind, pk, term, df, in_title, total, _position, _link in words:
        if pk != question_pk:
            scores[pk] += math.log(total / df) * (2.0 if in_title else 1.0)
            shared_words.setdefault(pk, []).append(tokenize.surface(term))
    best = sorted(scores.items(), key=lambda item: (-round(item[1], 9), -item[0]))[:SIMILAR_KEPT]
    return [(pk, shared_words.get(pk, [])[:3]) for pk, _score in best]
