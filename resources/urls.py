from django.urls import path

from resources import views

app_name = "resources"

urlpatterns = [
    path("resources/", views.ResourceListView.as_view(), name="list"),
    path("resources/<int:pk>/", views.resource_detail, name="detail-noslug"),
    path("resources/<int:pk>/download/", views.download, name="download"),
    path("resources/<int:pk>/<str:slug>/", views.resource_detail, name="detail"),
]
