from django.urls import path

from qa import views

app_name = "qa"

urlpatterns = [
    path("", views.home, name="home"),
    path("questions/", views.QuestionListView.as_view(), name="list"),
    path("questions/<int:pk>/", views.question_detail, name="detail-noslug"),
    path("questions/<int:pk>/<str:slug>/", views.question_detail, name="detail"),
    path("tags/<str:slug>/", views.TagView.as_view(), name="tag"),
    path("search/", views.search, name="search"),
]
