"""The two full-text engines behind ``qa.search``, and a pure-Python reference.

Each backend writes a question's tokens into its engine and turns query groups
into one SQL statement returning matching ids, newest first. SQLite answers from
an FTS5 table, PostgreSQL from a GIN-indexed tsvector; both hold the same tokens.
"""

from django.db import connection

from qa.models import SearchDocument
from qa.tokenize import Group

FTS_TABLE = "qa_search_fts"


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
