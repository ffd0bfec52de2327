"""What the two SQL engines share: running their match statements."""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Expression, QuerySet
from django.db.models.expressions import RawSQL

from qa.models import Question
from qa.search.tokenize import Group


@dataclass(frozen=True)
class Bound:
    """What the vocabulary tells of a match before it runs: at most ``most`` of the
    index's ``documents`` can have every group (the least document frequency). Words
    of one query go together too often for their shares to be multiplied."""

    most: int
    documents: int


def boolean_query(groups: list[Group], *, quote: str, all_of: str, any_of: str) -> str:
    """The engine's match expression for ``groups``: every group, each any of its variants
    (all of a variant's tokens, or any of them for a respelling), tokens in ``quote``.
    Tokens are [a-z0-9] or ideographs only (``tokenize.encode``), so quoting them is enough."""
    parts = []
    for group in groups:
        variants = []
        for variant in group.variants:
            joiner = any_of if variant.any_of else all_of
            variants.append("(" + joiner.join(f"{quote}{token}{quote}" for token in variant.tokens) + ")")
        parts.append("(" + any_of.join(variants) + ")")
    return all_of.join(parts)


class Backend:
    """One full-text engine; subclasses write its SQL."""

    def write(self, cursor, pk: int, title_tokens: list[str], body_tokens: list[str]) -> None:
        raise NotImplementedError

    def delete(self, cursor, pk: int) -> None:
        raise NotImplementedError

    def clear(self, cursor) -> None:
        raise NotImplementedError

    def write_many(self, cursor, rows: list[tuple[int, list[str], list[str]]]) -> None:
        """``write`` for many (pk, title tokens, body tokens) rows at once."""
        for pk, title_tokens, body_tokens in rows:
            self.write(cursor, pk, title_tokens, body_tokens)

    def delete_many(self, cursor, pks: list[int]) -> None:
        for pk in pks:
            self.delete(cursor, pk)

    def match_sql(
        self,
        groups: list[Group],
        *,
        title_only: bool,
        tag_id: int | None,
        limit: int,
        bound: Bound | None = None,
    ):
        """(SQL, params) selecting ``id``: documents with every group, newest first.
        ``bound``, when known, is for an engine that plans by it."""
        raise NotImplementedError

    def document_terms(self, pk: int, *, title_only: bool = False) -> RawSQL:
        """The tokens of document ``pk`` (of its title only), to use as ``term__in=``."""
        raise NotImplementedError

    def documents_matching_each(self, terms: QuerySet, *, limit_per_term: int) -> list[dict]:
        """For each row of ``terms`` (a values query with a ``term`` column), its
        columns plus ``document``: each of the ``limit_per_term`` newest documents
        containing that term, in one statement."""
        raise NotImplementedError

    def binary(self, expression: Expression) -> Expression:
        """``expression`` compared by code point, as Python sorts strings."""
        return expression

    def match_title_first(
        self, groups: list[Group], *, tag_id: int | None, limit: int, bound: Bound | None = None
    ) -> list[int]:
        """Up to ``limit`` matching ids, title matches first, newest first within each: one query."""
        selects, params = [], []
        for k, title_only in enumerate((True, False)):
            sql, part_params = self.match_sql(
                groups, title_only=title_only, tag_id=tag_id, limit=limit, bound=bound
            )
            selects.append(f"SELECT {k} AS k, m{k}.id FROM ({sql}) AS m{k}")  # noqa: S608 - placeholders only
            params.extend(part_params)
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects) + " ORDER BY k, id DESC", params)
            return list(dict.fromkeys(row[1] for row in cursor.fetchall()))[:limit]

    def match_each(
        self, groups: list[Group], *, tag_id: int | None, limit: int, bounds: list[Bound | None] | None = None
    ) -> list[list[int]]:
        """For each group on its own, up to ``limit`` ids, title matches first: one query.
        ``bounds`` holds each group's bound as ``match_sql`` takes it."""
        selects, params = [], []
        bounds = bounds or [None] * len(groups)
        for g, group in enumerate(groups):
            for k, title_only in enumerate((True, False)):
                sql, part_params = self.match_sql(
                    [group], title_only=title_only, tag_id=tag_id, limit=limit, bound=bounds[g]
                )
                n = 2 * g + k
                selects.append(f"SELECT {g} AS g, {k} AS k, m{n}.id FROM ({sql}) AS m{n}")  # noqa: S608
                params.extend(part_params)
        found: list[dict] = [{} for _group in groups]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects) + " ORDER BY g, k, id DESC", params)
            for g, _k, pk in cursor.fetchall():
                found[g].setdefault(pk, None)
        return [list(ids)[:limit] for ids in found]

    @staticmethod
    def tagged(tag_id: int) -> tuple[str, tuple]:
        """(SQL, params) selecting the ids of the questions with tag ``tag_id``."""
        tagged = Question.tags.through.objects.filter(tag_id=tag_id).values("question_id")
        return tagged.query.sql_with_params()

    @staticmethod
    def rows(sql: str, params) -> list[dict]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
