from django.core.management.base import BaseCommand

from qa import search


class Command(BaseCommand):
    help = "Rebuild the full-text search index and its vocabulary from the published questions."

    def handle(self, *args, **options):
        count = search.rebuild_index(search.published_sources())
        self.stdout.write(self.style.SUCCESS(f"Indexed {count} published questions."))
