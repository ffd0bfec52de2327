from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QaConfig(AppConfig):
    name = "qa"
    verbose_name = _("Questions and answers")

    def ready(self):
        from qa import freshness
        from qa.models import Question, RelatedQuestion, SynonymGroup, Tag
        from qa.search import index, meaning, synonyms

        index.connect()
        meaning.connect()
        synonyms.connect()
        freshness.watch(Question, Tag, RelatedQuestion, SynonymGroup)
