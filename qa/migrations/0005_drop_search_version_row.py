from django.db import migrations


def drop_version_row(apps, schema_editor):
    """Search caches key on the content version (qa.freshness) now, not on this vocabulary row."""
    SearchTerm = apps.get_model("qa", "SearchTerm")
    SearchTerm.objects.using(schema_editor.connection.alias).filter(term="#version").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("qa", "0004_content_version"),
    ]

    operations = [
        migrations.RunPython(drop_version_row, migrations.RunPython.noop),
    ]
