import argparse
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from qa.importing import import_content
from qa.transfer import TransferError


class ProgressBar:
    """A one-line bar redrawn in place, for a terminal only."""

    def __init__(self, out, width: int = 30):
        self.out, self.width, self.start = out, width, time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        rate = done / max(time.monotonic() - self.start, 1e-9)
        bar = "#" * filled + "-" * (self.width - filled)
        self.out.write(f"\r[{bar}] {done:,}/{total:,} questions, {rate:,.0f}/s", ending="")
        if done >= total:
            self.out.write("")
        self.out.flush()


class Command(BaseCommand):
    help = (
        "Import questions and resources from a content JSON file (see docs/import-format.md). "
        "All or nothing: any problem is reported by item and field and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the JSON file, or a folder holding content.json")
        parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
        parser.add_argument(
            "--chunk-size",
            type=int,
            metavar="N",
            help="commit every N questions instead of once (resumable: import the same file again)",
        )
        parser.add_argument(
            "--defer-embeddings",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="leave the meaning index to its background command (default: for 1,000 questions or more)",
        )

    def handle(self, *args, path, dry_run, chunk_size, defer_embeddings, **options):
        if chunk_size is not None and chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        progress = ProgressBar(self.stdout) if self.stdout.isatty() and not dry_run else None
        try:
            summary = import_content(
                path=Path(path),
                dry_run=dry_run,
                chunk_size=chunk_size,
                progress=progress,
                defer_embeddings=defer_embeddings,
            )
        except TransferError as exc:
            problems = "\n  ".join(exc.problems)
            raise CommandError(f"Nothing imported; {len(exc.problems)} problem(s):\n  {problems}") from exc
        if dry_run:
            self.stdout.write(self.style.SUCCESS(f"{path}: no problems found (dry run, nothing written)."))
            return
        self.stdout.write(self.style.SUCCESS(f"Imported {path}: {summary}."))
        if summary.embeddings_deferred:
            self.stdout.write(
                f"Meaning search: {summary.embeddings_deferred:,} questions are left to the background "
                "embedding command (docs/performance.md, “Embeddings at scale”)."
            )
