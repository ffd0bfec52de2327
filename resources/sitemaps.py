from config.paging import UpdatedSitemap
from resources.models import Resource


class ResourceSitemap(UpdatedSitemap):
    changefreq = "weekly"
    priority = 0.6

    def items(self):
        return Resource.objects.published().order_by("pk").only("pk", "slug", "updated")
