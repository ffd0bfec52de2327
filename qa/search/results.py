"""What a search returns: ranked ids, and their pages as highlighted questions."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import cache

from qa.markdown import plain_text
from qa.models import Question
from qa.search import tokenize
from qa.search.highlight import highlight, snippet
from qa.search.tokenize import Group

# Search caches key on the content version (qa.freshness), so any write retires them.
CACHE_SECONDS = 3600
# A page of results needs none of the Markdown sources.
_UNSHOWN_FIELDS = ("body", "answer")


def cache_key(kind: str, version: int, *parts) -> str:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"qa:search:{kind}:{version}:{digest}"


@dataclass
class SearchResults:
    """Ranked ids of one search, and what to highlight in them."""

    query: str
    groups: list[Group]
    ids: list[int]
    # The content version the ids were ranked at; pages of them are cached under it.
    version: int | None = None

    def __len__(self):
        return len(self.ids)

    @property
    def terms(self) -> list[str]:
        """Normalised strings to highlight: each group's words, else its pieces."""
        terms = []
        for group in self.groups:
            for variant in group.variants:
                terms.append(variant.surface)
                terms.extend(tokenize.surface(token) for token in variant.tokens)
        return sorted({t for t in terms if t}, key=len, reverse=True)

    def questions(self) -> "ResultQuestions":
        return ResultQuestions(self)


class ResultQuestions(Sequence):
    """The results as a sequence of questions, loaded one page at a time.

    Django's Paginator slices it, so only the shown page is read from the
    database (one query, plus one for the tags). A page, with its snippets, is
    cached under the content version like the ids; a cached page costs one
    query, which reads the view counts (they change without a new version) and
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
            key = cache_key("page", self.results.version, self.results.terms, ids)
            found = cache.get(key)
            if found is not None:
                views = current_views(ids)
                for question in found:
                    question.views = views.get(question.pk, question.views)
                return [question for question in found if question.pk in views]
        found = self._load(ids)
        if key is not None:
            cache.set(key, found, CACHE_SECONDS)
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


def current_views(ids: list[int]) -> dict[int, int]:
    """Views of those of ``ids`` still published, by id: one query."""
    # By id alone: filtering on publication in SQL makes SQLite scan every
    # published question through its (is_published, views) index.
    rows = Question.objects.with_visibility().filter(pk__in=ids).values_list("pk", "views", "visible")
    return {pk: count for pk, count, published in rows if published}
