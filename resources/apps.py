from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResourcesConfig(AppConfig):
    name = "resources"
    verbose_name = _("Resources")

    def ready(self):
        from qa import freshness
        from resources.models import Recommendation, Resource

        freshness.watch(Resource, Recommendation)
