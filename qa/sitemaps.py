from django.contrib.sitemaps import Sitemap

from qa.models import Question, Tag


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
        return Tag.objects.filter(questions__is_published=True).distinct().order_by("slug")
