from django.db import migrations

# PostgreSQL only (SQLite's FTS5 table is unchanged).
#
# Title matches used to be found with weight-labelled lexemes ('word':A) in one
# vector. A GIN index cannot tell weights apart, so for a word common in bodies
# but absent from titles PostgreSQL rechecked every body match, or walked the
# whole table newest first: ~200 ms at 100k questions. Titles now get their own
# vector and index, so both lookups are answered exactly by GIN.
#
# Both vectors are generated from the token columns, which already hold our
# own tokens; array_to_tsvector takes them as they are (no text search parser,
# so the database locale cannot split Chinese). Writing a SearchDocument row
# therefore writes its vectors in the same statement, with no second UPDATE
# leaving a dead row version behind on every index write.
TOKENS = "array_to_tsvector(string_to_array(trim({}), ' '))"
POSTGRES_FORWARD = [
    "DROP INDEX IF EXISTS qa_searchdocument_vector",
    "ALTER TABLE qa_searchdocument DROP COLUMN search_vector",
    "ALTER TABLE qa_searchdocument ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    + TOKENS.format("title_tokens || ' ' || body_tokens")
    + ") STORED",
    "ALTER TABLE qa_searchdocument ADD COLUMN title_vector tsvector GENERATED ALWAYS AS ("
    + TOKENS.format("title_tokens")
    + ") STORED",
    "CREATE INDEX qa_searchdocument_vector ON qa_searchdocument USING gin (search_vector)",
    "CREATE INDEX qa_searchdocument_title_vector ON qa_searchdocument USING gin (title_vector)",
]
# Back to one written column. array_to_tsvector keeps no positions, so the title
# weights need `manage.py rebuild_search_index` with the older code afterwards.
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS qa_searchdocument_title_vector",
    "DROP INDEX IF EXISTS qa_searchdocument_vector",
    "ALTER TABLE qa_searchdocument DROP COLUMN title_vector",
    "ALTER TABLE qa_searchdocument DROP COLUMN search_vector",
    "ALTER TABLE qa_searchdocument ADD COLUMN search_vector tsvector NOT NULL DEFAULT ''::tsvector",
    "UPDATE qa_searchdocument SET search_vector = setweight("
    + TOKENS.format("title_tokens")
    + ", 'A') || "
    + TOKENS.format("body_tokens"),
    "CREATE INDEX qa_searchdocument_vector ON qa_searchdocument USING gin (search_vector)",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("qa", "0002_search_index"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
