"""The full-text engines behind search: the only code that knows which database it runs on.

Both engines hold the same tokens (``qa.search.tokenize``) and answer the same
questions, so search and similar questions give the same results on either:

* ``match_title_first(groups, tag_id=, limit=)``: ids of the documents that
  contain every query group, title matches first, newest first within each;
* ``documents_matching_each(terms, limit_per_term=)``: for each row of a query
  of terms, the newest documents containing that term;
* ``document_terms(pk)``: the tokens of one document, as a subquery;
* ``write``/``delete``/``clear``: keeping the engine's side of the index.

SQLite answers from an FTS5 table (``sqlite``), PostgreSQL from GIN-indexed
tsvector columns (``postgresql``); ``reference`` matches in Python, for tests.
"""

from django.db import connection

from qa.search.backends.base import Backend


def backend() -> Backend:
    """The engine of the database in use."""
    if connection.vendor == "postgresql":
        from qa.search.backends.postgresql import PostgresBackend

        return PostgresBackend()
    from qa.search.backends.sqlite import SQLiteBackend

    return SQLiteBackend()
