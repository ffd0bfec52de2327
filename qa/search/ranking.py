"""Ranking search results: the same formula whatever the database.

``ranked`` resolves the query groups against the vocabulary (dropping words the
index has never seen, widening typos to close spellings), asks the engine for
candidates (documents with every group, title matches first, newest first, at
most ``CANDIDATES``; when few or none have them all, the documents with each of
the rarest groups follow) and orders them in Python by coverage, title hits and
a BM25-like weight of rare words: every group first, then the best partial
matches. Candidate order is defined by ids, not by engine-specific scores, so
both engines give the same results.
"""

import math
from dataclasses import replace

from qa.models import SearchDocument, SearchTerm, published_condition
from qa.search import tokenize
from qa.search.backends.base import Bound
from qa.search.index import DOCS
from qa.search.tokenize import Group

# Documents ranked per query; result lists stop here (nobody pages past 10 pages).
CANDIDATES = 200
# An indexed English word this rare is also searched as a close spelling that is
# this much more common (and in at least that many documents): likely its typo.
RARE_WORD_DF = 2
COMMON_SPELLING_RATIO = 3
COMMON_SPELLING_DF = 3
_TITLE_WEIGHT = 2.0
# A query of this many groups, fewer than ``PARTIAL_BELOW`` documents having them
# all, also gathers partial matches (a long question rarely matches word for word).
PARTIAL_GROUPS = 3
PARTIAL_BELOW = 10
# Partial matches are gathered for this many of the rarest groups, and a partial
# match must cover this share of the query's weight to be listed.
PARTIAL_SOURCES = 6
MIN_PARTIAL_COVERAGE = 0.25


def ranked(
    groups: list[Group], df: dict[str, int], tag_id: int | None, engine
) -> tuple[list[Group], list[int], int]:
    """(groups as resolved, ranked ids, how many of them lead with every group
    in the title) for parsed query ``groups``, given the document frequency
    ``df`` of their tokens and of ``DOCS``."""
    groups, weights, typed = _resolve(groups, df)
    if not groups:
        return [], [], 0

    documents = max(df.get(DOCS, 0), 1)
    bounds = [_bound(group, df, documents) for group in groups]
    ids = engine.match_title_first(groups, tag_id=tag_id, limit=CANDIDATES, bound=_least(bounds))
    if any(typed):
        # A rare word was widened to its common spelling: the documents with the
        # word as typed stay among the candidates however many have the other.
        as_typed = [exact[0] if exact else group for group, exact in zip(groups, typed, strict=True)]
        bound = _least([_bound(group, df, documents) for group in as_typed])
        found = engine.match_title_first(as_typed, tag_id=tag_id, limit=CANDIDATES, bound=bound)
        ids = list(dict.fromkeys(found + ids))[:CANDIDATES]
    if len(groups) > 1 and (not ids or (len(groups) >= PARTIAL_GROUPS and len(ids) < PARTIAL_BELOW)):
        # Few or no documents have every word: gather documents for each word, rarest first.
        by_rarity = sorted(zip(weights, range(len(groups)), strict=True), reverse=True)[:PARTIAL_SOURCES]
        share = max(CANDIDATES // len(by_rarity), 10)
        chosen = [i for _weight, i in by_rarity]
        each = engine.match_each(
            [groups[i] for i in chosen], tag_id=tag_id, limit=share, bounds=[bounds[i] for i in chosen]
        )
        ids = list(dict.fromkeys([*ids, *(pk for found in each for pk in found)]))
    return (groups, *_rank(ids, groups, weights, typed))


def _bound(group: Group, df: dict[str, int], documents: int) -> Bound | None:
    """How many documents at most match ``group``, by its tokens' document frequencies
    (None when one of them is not in ``df``)."""
    most = 0
    for variant in group.variants:
        counts = [df.get(token) for token in variant.tokens]
        if None in counts:
            return None
        most += sum(counts) if variant.any_of else min(counts)
    return Bound(most=min(most, documents), documents=documents)


def _least(bounds: list[Bound | None]) -> Bound | None:
    """The bound of all groups at once: any one group's."""
    known = [bound for bound in bounds if bound is not None]
    return min(known, key=lambda bound: bound.most) if known else None


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
        exact = None
        if group.synonyms:
            # A synonym term matches through whichever of its terms the index has.
            present = [variant for variant in group.variants if min(df.get(t, 0) for t in variant.tokens) > 0]
            if not present:
                continue
            frequency = max(
                df.get(tokenize.encode(v.surface)) or min(df[t] for t in v.tokens) for v in present
            )
            resolved.append(replace(group, synonyms=tuple(v for v in group.synonyms if v in present)))
            weights.append(rarity(frequency))
            typed.append(None)
            continue
        counts = [df.get(token, 0) for token in group.tokens]
        if min(counts) <= 0:
            if not group.is_ascii_word:
                continue
            alternatives = _corrections(group.surface)
            if not alternatives:
                continue
            df.update(alternatives)
            group = group.with_alternatives([term for term, _count in alternatives])
            frequency = max(count for _term, count in alternatives)
        else:
            frequency = df.get(tokenize.encode(group.surface)) or min(counts)
            if group.is_ascii_word and frequency <= RARE_WORD_DF:
                least = max(COMMON_SPELLING_DF, COMMON_SPELLING_RATIO * frequency)
                alternatives = _corrections(group.surface, min_count=least)
                if alternatives:
                    df.update(alternatives)
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


def _rank(ids: list[int], groups: list[Group], weights: list[float], typed: list) -> tuple[list[int], int]:
    if not ids:
        return [], 0
    texts = SearchDocument.objects.filter(published_condition("question__"), pk__in=ids).values_list(
        "question_id", "title_text", "body_text"
    )
    # Every group first; a partial match must cover a fair share of the query.
    least = MIN_PARTIAL_COVERAGE * sum(weights) if len(groups) > 1 else 0.0
    complete = round(sum(weights), 9)
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
        if round(coverage, 9) < complete and coverage < least:
            continue
        scored.append((-round(coverage, 9), -title_hits, -round(score, 9), -pk))
    scored.sort()
    leading = sum(1 for key in scored if -key[0] == complete and -key[1] == len(groups))
    return [-key[-1] for key in scored], leading
