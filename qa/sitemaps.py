from django.contrib.sitemaps import Sitemap

from qa.models import Question, Tag, published_condition


class QuestionSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.8
    limit = 5000

    def items(self):
        return Question.objects.published().order_by("pk").only("pk", "slug", "updated")

    def lastmod(self, item):
        return item.updated


class TagSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.5

    def items(self):
        return Tag.objects.filter(published_condition("questions__")).distinct().order_by("slug")
