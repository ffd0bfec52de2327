from django.contrib import admin
from django.contrib.sitemaps.views import index, sitemap
from django.urls import include, path
from django.views.generic import RedirectView, TemplateView

from config.api import mcp
from config.api import urls as api_urls
from config.health import readyz
from qa.feeds import LatestQuestionsFeed
from qa.llms import llms_txt_view
from qa.sitemaps import QuestionSitemap, TagSitemap, cached
from qa.views import healthz, robots_txt, switch_language
from resources.sitemaps import ResourceSitemap

OPENSEARCH = "application/opensearchdescription+xml"
MANIFEST = "application/manifest+json"
sitemaps = {"questions": QuestionSitemap, "tags": TagSitemap, "resources": ResourceSitemap}

urlpatterns = [
    path("", include("qa.urls")),
    path("", include("resources.urls")),
    path("api/", api_urls()),
    path("admin/", admin.site.urls),
    path("i18n/<str:language>/", switch_language, name="switch-language"),
    path(
        "sitemap.xml",
        cached(index),
        {"sitemaps": sitemaps, "sitemap_url_name": "sitemap-section"},
        name="sitemap",
    ),  # fmt: skip
    path("sitemap-<section>.xml", cached(sitemap), {"sitemaps": sitemaps}, name="sitemap-section"),
    path("feed/", LatestQuestionsFeed(), name="feed"),
    path("robots.txt", robots_txt, name="robots"),
    path("llms.txt", llms_txt_view, name="llms-txt"),
    path("mcp", mcp.view(), name="mcp"),
    path(
        "opensearch.xml",
        TemplateView.as_view(template_name="opensearch.xml", content_type=OPENSEARCH),
        name="opensearch",
    ),
    path(
        "manifest.webmanifest",
        TemplateView.as_view(template_name="manifest.webmanifest", content_type=MANIFEST),
        name="manifest",
    ),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("favicon.ico", RedirectView.as_view(url="/static/img/favicon.svg", permanent=True)),
]

handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
