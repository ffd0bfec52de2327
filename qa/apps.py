from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QaConfig(AppConfig):
    name = "qa"
    verbose_name = _("Questions and answers")

    def ready(self):
        from qa import freshness, signals  # noqa: F401 - signals connects the search index hooks
        from qa.models import Question, RelatedQuestion, Tag

        freshness.watch(Question, Tag, RelatedQuestion)
