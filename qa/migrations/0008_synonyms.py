from django.db import migrations, models


def fill_initials(apps, schema_editor):
    """Pinyin initials of the titles already indexed, for suggestions."""
    from qa.search.tokenize import initials

    SearchDocument = apps.get_model("qa", "SearchDocument")
    documents = SearchDocument.objects.using(schema_editor.connection.alias)
    batch = []
    for document in documents.only("pk", "title_text").iterator(chunk_size=2000):
        document.title_initials = initials(document.title_text)
        batch.append(document)
        if len(batch) == 2000:
            documents.bulk_update(batch, ["title_initials"])
            batch = []
    documents.bulk_update(batch, ["title_initials"])


class Migration(migrations.Migration):
    dependencies = [
        ("qa", "0007_publish_at_and_history"),
    ]

    operations = [
        migrations.CreateModel(
            name="SynonymGroup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "terms",
                    models.TextField(
                        help_text="One term per line (or separated by commas, 、 or =); a term may be several words.",
                        verbose_name="terms",
                    ),
                ),
                ("updated", models.DateTimeField(auto_now=True, verbose_name="updated at")),
            ],
            options={
                "verbose_name": "synonym group",
                "verbose_name_plural": "synonym groups",
                "ordering": ["id"],
            },
        ),
        migrations.AddField(
            model_name="searchdocument",
            name="title_initials",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(fill_initials, migrations.RunPython.noop),
    ]
