"""Questions related to a given one, for the "related questions" section (SPEC §6).

Curated links come first, in the editor's order; similar questions fill up the
rest. Similarity counts shared tags most, closeness in meaning (the cosine of
the stored embeddings, from the in-process index: no query of its own), then
shared words weighted by rarity
(a word few questions use says more than a common one, as in Question2Answer):
the question's rarest words that other questions share, and the newest
questions containing each, which the search engine finds
(``documents_matching_each``). The similar list is cached per content version,
so an edit anywhere refreshes it in every process.
"""

import math
from collections import Counter, defaultdict
from typing import NamedTuple

from django.core.cache import cache
from django.db.models import BooleanField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest, Length

from qa import freshness
from qa.models import Question, RelatedQuestion, SearchTerm, Tag, published_condition
from qa.search import meaning, tokenize
from qa.search.backends import backend
from qa.search.index import DOCS

_SIMILAR_KEPT = 10
_SIMILAR_TERMS = 12
_MATCHES_PER_TERM = 50
_SHARED_TAG_ROWS = 2000
_TAG_WEIGHT = 3.0
# A neighbour in meaning scores up to two shared tags' worth, from nothing at this cosine.
_MEANING_WEIGHT = 6.0
_MEANING_FLOOR = 0.82
_SIMILAR_CACHE_SECONDS = 24 * 3600

Similar = list[tuple[int, list[str]]]  # (question id, shared words shown), most similar first


class RelatedPage(NamedTuple):
    question: Question
    tags: list[Tag]
    related: list[Question]


def with_related(questions: QuerySet, pk: int, *, limit: int, version: int | None) -> RelatedPage:
    """Question ``pk``, its tags and what is related to it: three queries when
    the similar list must be worked out, two when it is cached (one more
    without ``version``). Raises ``DoesNotExist`` like ``get()``."""
    curated_links = RelatedQuestion.objects.filter(from_question=pk)
    similar, tag_rows = _similar_and_tags(pk, version, also=curated_links.values("to_question"))
    link = curated_links.filter(to_question=OuterRef("pk"))
    # One IN over a union, not "pk = … OR (published AND pk IN …)": PostgreSQL
    # cannot serve that OR from indexes and, with the model's ordering, walked
    # the whole table by its created index (1.4 s at a million questions).
    wanted = (
        curated_links.order_by()
        .values("to_question")
        .union(
            Question.objects.order_by()
            .filter(pk__in=[pk, *(other for other, _words in similar)])
            .values("pk")
        )
    )
    rows = (
        questions.filter(pk__in=wanted)
        .annotate(
            link_position=Subquery(link.values("position")[:1]),
            link_id=Subquery(link.values("pk")[:1]),
            visible=ExpressionWrapper(published_condition(), output_field=BooleanField()),
        )
        .order_by()
        .in_bulk()
    )
    if pk not in rows:
        raise Question.DoesNotExist(f"No question with id {pk}.")
    question = rows.pop(pk)
    rows = {other: row for other, row in rows.items() if row.visible}
    links = sorted(
        (row.link_position, row.link_id, row.pk) for row in rows.values() if row.link_id is not None
    )
    curated = [other for _position, _link, other in links][:limit]
    tags, related = _assemble(pk, rows, curated, similar, tag_rows, limit)
    return RelatedPage(question, tags, related)


def related_to(questions: QuerySet, question: Question, *, limit: int) -> list[Question]:
    """What is related to ``question`` (already loaded), as ``with_related`` gives it.

    No similarity lookup at all when curated links fill ``limit``."""
    links = RelatedQuestion.objects.filter(published_condition("to_question__"), from_question=question)
    rows = {link.to_question_id: link.to_question for link in links.select_related("to_question")[:limit]}
    curated = list(rows)
    if len(curated) < limit:
        similar, tag_rows = _similar_and_tags(question.pk, None, also=curated)
        rows.update(questions.published().in_bulk([other for other, _words in similar if other not in rows]))
    else:
        similar, tag_rows = [], _tag_rows(question.pk, curated)
    return _assemble(question.pk, rows, curated, similar, tag_rows, limit)[1]


def _similar_and_tags(pk: int, version: int | None, *, also) -> tuple[Similar, list]:
    """The similar list of ``pk`` (from the cache when it can) and the tag rows
    of ``pk``, of the questions on that list and of the ``also`` ids."""
    version = freshness.current() if version is None else version
    key = f"qa:similar:{pk}:{version}"
    similar = cache.get(key)
    if similar is not None:
        listed = [other for other, _words in similar]
        return similar, _tag_rows(pk, listed, also)
    words = _shared_words(pk)
    sharers = _tag_sharers(pk)
    # Only the rows of questions found by their tags count towards similarity;
    # those of ``also`` (curated links, maybe unpublished) are for the page alone.
    tag_rows = _tag_rows(pk, sharers, also, shares=Q(question_id__in=sharers))
    similar = _score(pk, words, [row for row in tag_rows if row.shares], meaning.closest(pk, version=version))
    cache.set(key, similar, _SIMILAR_CACHE_SECONDS)
    return similar, tag_rows


def _own_tags(pk: int) -> QuerySet:
    return Question.tags.through.objects.filter(question_id=pk).values("tag_id")


def _tag_sharers(pk: int) -> QuerySet:
    """Published questions with a tag of ``pk`` (a bounded number of them)."""
    through = Question.tags.through.objects
    sharers = through.filter(published_condition("question__"), tag_id__in=_own_tags(pk)).exclude(
        question_id=pk
    )
    return sharers.values("question_id")[:_SHARED_TAG_ROWS]


def _tag_rows(pk: int, *others, shares: Q | None = None) -> list:
    """The tags of ``pk``, and for the questions of ``others`` (id lists or
    querysets of ids) those of them they share with ``pk``; each row's
    ``shares`` says whether it matches ``shares``."""
    # One IN over a union of the ids: "question_id = … OR … IN (…)" made
    # PostgreSQL read every link of each shared tag (290,000 rows for a popular
    # one at a million questions) instead of the links of the few questions wanted.
    wanted = Question.objects.order_by().filter(pk=pk).values("pk")
    for ids in others:
        wanted = wanted.union(Question.objects.order_by().filter(pk__in=ids).values("pk"))
    rows = Question.tags.through.objects.filter(question_id__in=wanted)
    if shares is not None:
        rows = rows.annotate(shares=ExpressionWrapper(shares, output_field=BooleanField()))
    rows = list(rows.select_related("tag").order_by("tag__name"))
    # Kept to the tags of ``pk`` here rather than in SQL, where "tag_id IN (its
    # tags)" drew the planner to those tags' links again (it cannot know that a
    # popular tag has a hundred times the average).
    own = {row.tag_id for row in rows if row.question_id == pk}
    return [row for row in rows if row.tag_id in own]


def _shared_words(pk: int) -> list[dict]:
    """The rarest words of ``pk`` that other questions use too, and the newest
    questions using each: rows of ``term``, ``df``, ``total``, ``in_title``, ``document``."""
    engine = backend()
    documents = Subquery(SearchTerm.objects.filter(term=DOCS).values("df")[:1])
    in_title = Q(term__in=engine.document_terms(pk, title_only=True))
    terms = (
        SearchTerm.objects.filter(term__in=engine.document_terms(pk))
        .annotate(
            total=Greatest(Coalesce(documents, 1), 1),
            in_title=ExpressionWrapper(in_title, output_field=BooleanField()),
            chars=Length("term"),
        )
        .filter(chars__gt=1, df__gte=2, df__lt=Greatest(F("total"), 3))
        .order_by("df", engine.binary(F("term")))
        .values("term", "df", "total", "in_title")[:_SIMILAR_TERMS]
    )
    return engine.documents_matching_each(terms, limit_per_term=_MATCHES_PER_TERM)


def _score(pk: int, words: list[dict], tag_rows: list, close: dict[int, float] | None = None) -> Similar:
    """Similar questions from the word ``rows``, the ``tag_rows`` of other questions
    and the cosine similarity of those ``close`` in meaning."""
    scores: Counter[int] = Counter()
    for other, similarity in (close or {}).items():
        scores[other] += _MEANING_WEIGHT * (similarity - _MEANING_FLOOR) / (1 - _MEANING_FLOOR)
    for row in tag_rows:
        scores[row.question_id] += _TAG_WEIGHT
    shared_words: dict[int, list[str]] = {}
    # Rarest words first, newest questions first within a word, so the words
    # shown for a question are its rarest shared ones.
    for row in sorted(words, key=lambda row: (row["df"], row["term"], -row["document"])):
        other = row["document"]
        if other != pk:
            scores[other] += math.log(row["total"] / row["df"]) * (2.0 if row["in_title"] else 1.0)
            shared_words.setdefault(other, []).append(tokenize.surface(row["term"]))
    best = sorted(scores.items(), key=lambda item: (-round(item[1], 9), -item[0]))[:_SIMILAR_KEPT]
    return [(other, shared_words.get(other, [])[:3]) for other, _score in best]


def _assemble(pk: int, rows: dict, curated: list[int], similar: Similar, tag_rows: list, limit: int):
    """(tags of ``pk``, related questions): curated then similar ones from
    ``rows`` (published questions by id), each with the reasons it is related."""
    related = [rows[other] for other in curated if other in rows]
    taken = {pk, *curated}
    words = {other: shared for other, shared in similar if other not in taken}
    related += [rows[other] for other in words if other in rows][: max(limit - len(related), 0)]
    tags = defaultdict(list)
    for row in tag_rows:
        tags[row.question_id].append(row.tag)
    for item in related:
        item.shared_tags = tags[item.pk]
        item.shared_words = words.get(item.pk, [])
    return tags[pk], related
