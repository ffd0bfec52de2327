from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from qa.importing import import_content
from qa.models import Question
from qa.transfer import TransferError


class Command(BaseCommand):
    help = "Import the demo content, but only into a database that has no questions yet."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the demo JSON file, e.g. qa/demo/demo.json")

    def handle(self, *args, path, **options):
        # Only an empty site gets the demo, so restarting `make run` never undoes edits.
        existing = Question.objects.count()
        if existing:
            self.stdout.write(f"Demo content skipped: the database already has {existing} questions.")
            return
        try:
            summary = import_content(path=Path(path))
        except TransferError as exc:
            raise CommandError("Demo content not loaded:\n  " + "\n  ".join(exc.problems)) from exc
        self.stdout.write(self.style.SUCCESS(f"Demo content loaded from {path}: {summary}."))
