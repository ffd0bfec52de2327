import sys
import time

from django.core.management.base import BaseCommand, CommandError

from qa.models import Question
from qa.search import meaning


class Command(BaseCommand):
    help = (
        "Embed every published question whose embedding for search by meaning is missing or stale "
        "(after `import_content --defer-embeddings`, a model change, or tag renames). Batched and "
        "resumable: an interrupted run loses at most one batch, and a second run skips what is done."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", type=int, default=32, help="questions embedded per model call and commit"
        )
        parser.add_argument(
            "--shard",
            default="0/1",
            metavar="K/N",
            help="this process takes the questions whose id leaves K divided by N: run N processes "
            "with 0/N … N-1/N side by side to use N cores",
        )

    def handle(self, *args, batch, shard, **options):
        try:
            k, n = (int(part) for part in shard.split("/"))
        except ValueError:
            raise CommandError(f"--shard takes K/N, such as 0/2; not {shard!r}.") from None
        if not 0 <= k < n:
            raise CommandError(f"--shard {shard}: K must be at least 0 and below N.")
        if meaning.embedder() is None:
            raise CommandError("The embedding model is not available (see the log); nothing embedded.")
        total = (
            -(-Question.objects.published().count() // n) if n > 1 else Question.objects.published().count()
        )
        terminal = self.stdout.isatty() and sys.stdout.isatty()
        started = time.monotonic()

        def progress(done: int, embedded: int) -> None:
            if not terminal:
                return
            width = 30
            filled = width * done // max(total, 1)
            rate = embedded / max(time.monotonic() - started, 1e-6)
            self.stdout.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} checked, "
                f"{embedded} embedded ({rate:.1f}/s)",
                ending="",
            )
            self.stdout.flush()

        embedded = meaning.embed_pending(batch=max(batch, 1), progress=progress, shard=(k, n))
        if terminal:
            self.stdout.write("")
        seconds = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"{embedded} question(s) embedded, {total} checked, in {seconds:.1f} s.")
        )
