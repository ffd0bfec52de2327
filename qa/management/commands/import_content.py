from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from qa.importing import import_content
from qa.search import meaning
from qa.transfer import TransferError


class Command(BaseCommand):
    help = (
        "Import questions and resources from a content JSON file (see docs/import-format.md). "
        "All or nothing: any problem is reported by item and field and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the JSON file, or a folder holding content.json")
        parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
        parser.add_argument(
            "--defer-embeddings",
            action="store_true",
            help="bulk loads: leave search by meaning to `manage.py embed_questions` instead of "
            "embedding each question before the import returns",
        )

    def handle(self, *args, path, dry_run, defer_embeddings, **options):
        try:
            summary = import_content(path=Path(path), dry_run=dry_run, defer_embeddings=defer_embeddings)
        except TransferError as exc:
            problems = "\n  ".join(exc.problems)
            raise CommandError(f"Nothing imported; {len(exc.problems)} problem(s):\n  {problems}") from exc
        if dry_run:
            self.stdout.write(self.style.SUCCESS(f"{path}: no problems found (dry run, nothing written)."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported {path}: {summary}."))
            if defer_embeddings and meaning.enabled():
                self.stdout.write(
                    "Embeddings deferred: search finds these questions by their words now and by "
                    "meaning once `manage.py embed_questions` has run (docs/search.md gives its rate)."
                )
