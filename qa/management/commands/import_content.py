import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from qa.importing import ImportInterrupted, import_content
from qa.transfer import TransferError


class Progress:
    """A one-line progress bar on a terminal (nothing when output is redirected)."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream, self.start = stream, time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        bar = "#" * round(share * self.WIDTH)
        self.stream.write(
            f"\r  questions [{bar:<{self.WIDTH}}] {done:,}/{total:,} ({share:.0%}), {rate:,.0f}/s"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


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
            help="leave search by meaning to `manage.py embed_questions` instead of embedding the "
            "questions when the import commits (always so for 1,000 questions or more)",
        )
        parser.add_argument(
            "--chunk",
            type=int,
            metavar="N",
            help="commit every N questions instead of once (very large files): a fault keeps the "
            "chunks committed before it, and running the same command again finishes the import",
        )
        parser.add_argument(
            "--workers", type=int, metavar="N", help="rendering processes (default: one per core)"
        )

    def handle(self, *args, path, dry_run, defer_embeddings, chunk, workers, **options):
        if chunk is not None and chunk < 1:
            raise CommandError("--chunk must be 1 or more.")
        progress = None
        if sys.stderr.isatty() and not dry_run and options["verbosity"] > 0:
            progress = Progress(sys.stderr)
        try:
            summary = import_content(
                path=Path(path),
                dry_run=dry_run,
                defer_embeddings=defer_embeddings,
                chunk=chunk,
                workers=workers,
                progress=progress,
            )
        except TransferError as exc:
            problems = "\n  ".join(exc.problems)
            raise CommandError(f"Nothing imported; {len(exc.problems)} problem(s):\n  {problems}") from exc
        except ImportInterrupted as exc:
            raise CommandError(f"Import of {path} {exc}") from exc
        if dry_run:
            self.stdout.write(self.style.SUCCESS(f"{path}: no problems found (dry run, nothing written)."))
            return
        self.stdout.write(self.style.SUCCESS(f"Imported {path}: {summary}."))
        if summary.embeddings_deferred:
            self.stdout.write(
                f"Embeddings deferred for {summary.embeddings_deferred:,} question(s): search finds them "
                "by their words now and by meaning once `manage.py embed_questions` has run "
                "(docs/search.md gives its rate)."
            )
