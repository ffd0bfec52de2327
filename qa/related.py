"""Questions similar to a given one, for the "related questions" section (SPEC §6)."""

import math
from collections import Counter

from qa import tokenize
from qa.models import Question, SearchDocument, SearchTerm
from qa.search_backends import backend
from qa.search_index import DOCS, index_version
from qa.tokenize import Group

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
