from django.contrib.syndication.views import Feed
from django.urls import reverse_lazy

from qa.models import Question


class LatestQuestionsFeed(Feed):
    title = "知库 · 最新问题"
    link = reverse_lazy("qa:home")
    description = "知库新发布的问题与解答。"

    def items(self):
        return Question.objects.published().sorted_by("new")[:30]

    def item_title(self, item):
        return item.title

    def item_description(self, item):
        return item.excerpt

    def item_pubdate(self, item):
        return item.created

    def item_updateddate(self, item):
        return item.updated
