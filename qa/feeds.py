from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.urls import reverse_lazy

from qa.models import Question, Tag


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


class TagFeed(LatestQuestionsFeed):
    """The newest questions with one tag, at ``/tags/<slug>/feed/``."""

    def get_object(self, request, slug):
        return get_object_or_404(Tag, slug=slug)

    def title(self, tag):
        return f"知库 · {tag.name}"

    def link(self, tag):
        return tag.get_absolute_url()

    def description(self, tag):
        return f"知库里标签为“{tag.name}”的新问题。"

    def items(self, tag):
        return Question.objects.published().filter(tags=tag).sorted_by("new")[:30]
