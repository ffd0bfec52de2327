from django.core.management.base import BaseCommand
from django.db import transaction

from qa import freshness
from qa.models import Question, SynonymGroup
from qa.search import index
from qa.workers import default_workers


class Command(BaseCommand):
    help = "Rebuild the full-text search index and its vocabulary from the published questions."

    def handle(self, *args, **options):
        with transaction.atomic():
            count = index.rebuild_index(
                index.published_sources(),
                synonym_groups=SynonymGroup.objects.count(),
                workers=default_workers(),
                expected=Question.objects.filter(is_published=True).count(),
            )
            # What search finds may change though no content was saved: retire cached results.
            freshness.bump()
        self.stdout.write(self.style.SUCCESS(f"Indexed {count} published questions."))
