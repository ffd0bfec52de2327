from django.contrib.sitemaps import Sitemap

from resources.models import Resource


class ResourceSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.6
    limit = 5000

    def items(self):
        return Resource.objects.published().order_by("pk").only("pk", "slug", "updated")

    def lastmod(self, item):
        return item.updated
