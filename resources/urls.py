from django.urls import path

from config import converters  # noqa: F401  (registers <id:...>)
from resources import tools, views

app_name = "resources"

urlpatterns = [
    path("resources/", views.ResourceListView.as_view(), name="list"),
    path("resources/<id:pk>/", views.resource_detail, name="detail-noslug"),
    path("resources/<id:pk>/download/", views.download, name="download"),
    path("resources/<id:pk>/<str:slug>/", views.resource_detail, name="detail"),
    path("tools/invert/", tools.invert_page, name="invert"),
]
