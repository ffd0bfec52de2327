from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from qa.exporting import export_content
from qa.transfer import TransferError


class Command(BaseCommand):
    help = "Export every question and resource to DIR/content.json plus DIR/files/ (a new or empty folder)."

    def add_arguments(self, parser):
        parser.add_argument("directory", help="where to write; created when missing, must be empty")

    def handle(self, *args, directory, **options):
        try:
            summary = export_content(directory=Path(directory))
        except TransferError as exc:
            raise CommandError("Nothing exported:\n  " + "\n  ".join(exc.problems)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported {summary.questions} questions and {summary.resources} resources to {summary.path}."
            )
        )
