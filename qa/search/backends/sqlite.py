"""SQLite: an FTS5 table ``qa_search_fts(title, body)``, rowid = question id (migration 0002)."""

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from qa.models import SearchDocument
from qa.search.backends.base import Backend, boolean_query
from qa.search.tokenize import Group

FTS_TABLE = "qa_search_fts"


class SQLiteBackend(Backend):
    def write(self, cursor, pk: int, title_tokens: list[str], body_tokens: list[str]) -> None:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [pk])  # noqa: S608
        cursor.execute(
            f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (%s, %s, %s)",  # noqa: S608
            [pk, " ".join(title_tokens), " ".join(body_tokens)],
        )

    def delete(self, cursor, pk: int) -> None:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [pk])  # noqa: S608

    def write_many(self, cursor, rows) -> None:
        self.delete_many(cursor, [pk for pk, _title, _body in rows])
        cursor.executemany(
            f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (%s, %s, %s)",  # noqa: S608
            [(pk, " ".join(title), " ".join(body)) for pk, title, body in rows],
        )

    def delete_many(self, cursor, pks) -> None:
        for start in range(0, len(pks), 500):
            chunk = pks[start : start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({marks})", chunk)  # noqa: S608

    def clear(self, cursor) -> None:
        cursor.execute(f"DELETE FROM {FTS_TABLE}")  # noqa: S608

    def match_sql(
        self,
        groups: list[Group],
        *,
        title_only: bool,
        tag_id: int | None,
        limit: int,
        bound=None,
    ):
        expression = boolean_query(groups, quote='"', all_of=" AND ", any_of=" OR ")
        if title_only:
            expression = f"title : ({expression})"
        sql = f"SELECT rowid AS id FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608
        params: list = [expression]
        if tag_id is not None:
            tagged, tagged_params = self.tagged(tag_id)
            sql += f" AND rowid IN ({tagged})"
            params.extend(tagged_params)
        return sql + " ORDER BY rowid DESC LIMIT %s", [*params, limit]

    def document_terms(self, pk: int, *, title_only: bool = False) -> RawSQL:
        tokens = "d.title_tokens" if title_only else "trim(d.title_tokens || ' ' || d.body_tokens)"
        # The space-separated tokens as a JSON array; tokens hold no quote or backslash.
        return RawSQL(  # noqa: S611 - names from the code, the id a parameter
            f"""SELECT j.value FROM {SearchDocument._meta.db_table} AS d,
            json_each('["' || replace({tokens}, ' ', '","') || '"]') AS j
            WHERE d.question_id = %s""",  # noqa: S608 - names from the code only
            [pk],
        )

    def documents_matching_each(self, terms: QuerySet, *, limit_per_term: int) -> list[dict]:
        sql, params = terms.query.sql_with_params()
        rows = self.rows(
            f"""SELECT * FROM (
                SELECT t.*, f.rowid AS document,
                       row_number() OVER (PARTITION BY t.term ORDER BY f.rowid DESC) AS n
                FROM ({sql}) AS t JOIN {FTS_TABLE} AS f ON f.{FTS_TABLE} MATCH '"' || t.term || '"'
            ) WHERE n <= %s""",  # noqa: S608 - a compiled query and names from the code
            [*params, limit_per_term],
        )
        for row in rows:
            del row["n"]
        return rows
