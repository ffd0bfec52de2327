import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    # Existing questions get their embeddings from `manage.py embed_questions` (docs/search.md):
    # a migration should not spend minutes running a model.
    dependencies = [
        ("qa", "0008_synonyms"),
    ]

    operations = [
        migrations.CreateModel(
            name="QuestionEmbedding",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("model", models.CharField(max_length=100)),
                ("dim", models.PositiveSmallIntegerField()),
                ("vector", models.BinaryField()),
                ("content_hash", models.CharField(max_length=64)),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "question",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="embedding", to="qa.question"
                    ),
                ),
            ],
            options={
                "verbose_name": "question embedding",
            },
        ),
    ]
