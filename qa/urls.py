from django.urls import path

from config import converters  # noqa: F401  (registers <id:...>)
from qa import llms, media, views
from qa.feeds import TagFeed

app_name = "qa"

urlpatterns = [
    path("", views.home, name="home"),
    path("questions/", views.QuestionListView.as_view(), name="list"),
    path("questions/<id:pk>/", views.question_detail, name="detail-noslug"),
    path("questions/<id:pk>/<str:slug>/", views.question_detail, name="detail"),
    path("questions/<id:pk>/<str:slug>.md", llms.question_md, name="markdown"),
    path("tags/<str:slug>/", views.TagView.as_view(), name="tag"),
    path("tags/<str:slug>/feed/", TagFeed(), name="tag-feed"),
    path("search/", views.search, name="search"),
    path("media/figures/<path:path>", media.figure_file, name="figure"),
]
