"""A reference matcher over the stored token lists, with no full-text engine.

Tests compare the real engines against it (``search(query, engine=ReferenceBackend())``);
it reads every document, so it never serves requests.
"""

from qa.models import SearchDocument
from qa.search.tokenize import Group


class ReferenceBackend:
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

    def match_title_first(
        self, groups: list[Group], *, tag_id: int | None, limit: int, bound=None
    ) -> list[int]:
        in_title = self.match(groups, title_only=True, tag_id=tag_id, limit=limit)
        anywhere = self.match(groups, title_only=False, tag_id=tag_id, limit=limit)
        return list(dict.fromkeys(in_title + anywhere))[:limit]

    def match_each(
        self, groups: list[Group], *, tag_id: int | None, limit: int, bounds=None
    ) -> list[list[int]]:
        return [self.match_title_first([group], tag_id=tag_id, limit=limit) for group in groups]


def _group_in(group: Group, tokens: set[str]) -> bool:
    if group.synonyms:
        return any(_group_in(variant, tokens) for variant in group.variants)
    if group.any_of:
        return any(token in tokens for token in group.any_of)
    return all(token in tokens for token in group.all_of)
