import json

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django_filters.views import FilterView

from config.ratelimit import ratelimit
from qa import pagecache
from qa.counting import RecentViews, is_countable
from qa.filters import QuestionFilter
from qa.markdown import plain_text
from qa.models import Question, Tag
from qa.paging import CachedCountPaginator
from qa.search import search_request
from resources.models import LATEST_RESOURCES, Resource

# JSON inside <script type="application/ld+json"> must not be able to close the tag.
_JSON_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


@require_safe
def home(request):
    published = Question.objects.for_listing()
    context = {
        "latest": published.sorted_by("new")[:10],
        "popular": published.sorted_by("views")[:10],
        "tags": Tag.objects.with_published_questions()[:40],
        "latest_resources": Resource.objects.newest(),
    }
    return render(request, "qa/home.html", context)


class QuestionListView(FilterView):
    template_name = "qa/question_list.html"
    context_object_name = "questions"
    filterset_class = QuestionFilter
    paginate_by = settings.ZHIKU_PAGE_SIZE
    paginator_class = CachedCountPaginator
    strict = False  # a refused filter value narrows nothing rather than emptying the list

    def get_queryset(self):
        return Question.objects.for_listing()


class TagView(QuestionListView):
    template_name = "qa/tag_detail.html"

    def get_queryset(self):
        self.tag = get_object_or_404(Tag, slug=self.kwargs["slug"])
        return super().get_queryset().filter(tags=self.tag)

    def get_context_data(self, **kwargs):
        return super().get_context_data(tag=self.tag, **kwargs)


@require_safe
def question_detail(request, pk, slug=None):
    """One question page; a GET that answers 200 counts a view (SPEC §5).

    Rendered once per content version and cached with a hole for the view
    count (``qa.pagecache``)."""
    state = pagecache.page_state(pk)
    if state is None:
        return _staff_preview(request, pk, slug)
    if slug != state.slug:
        return HttpResponsePermanentRedirect(get_object_or_404(Question, pk=pk).get_absolute_url())

    recent = RecentViews(request)
    counted = is_countable(request) and pk not in recent
    # Shown with this visit included; stored only once the page has rendered,
    # so a request that ends in an error never counts.
    views = state.views + 1 if counted else state.views

    html = pagecache.cached_page(request, state)
    if html is None:
        html = _render_question(request, pk, version=state.version)
        pagecache.store_page(request, state, html)
    response = HttpResponse(pagecache.fill(html, views=views))
    if counted:
        Question.objects.count_view(pk)
        recent.add(pk)
        recent.store(response)
    return response


def _render_question(request, pk, *, version=None, preview=False) -> str:
    question, tags, related = Question.objects.with_related(pk, version=version)
    recommended, latest = _question_page_resources(question)
    context = {
        "question": question,
        "tags": tags,
        "related": related,
        "recommended_resources": recommended,
        "latest_resources": latest,
        "json_ld": _qa_page_json_ld(request, question),
        "preview": preview,
        **pagecache.slots(),
    }
    return render_to_string("qa/question_detail.html", context, request)


def _staff_preview(request, pk, slug):
    """A draft or scheduled question as staff see it: with a banner saying so,
    never cached, never counted. Everyone else gets the 404 page."""
    if not (request.user.is_staff and request.user.has_perm("qa.view_question")):
        raise Http404("No such question.")
    found = Question.objects.filter(pk=pk).values_list("slug", "views").first()
    if found is None:
        raise Http404("No such question.")
    if slug != found[0]:
        return HttpResponseRedirect(reverse("qa:detail", kwargs={"pk": pk, "slug": found[0] or "q"}))
    html = _render_question(request, pk, preview=True)
    response = HttpResponse(pagecache.fill(html, views=found[1]))
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_safe
@ratelimit("search")
def search(request):
    """Search results with highlighted snippets; ``tag`` narrows, ``page`` pages."""
    results = search_request(request.GET)
    page = Paginator(results.questions(), settings.ZHIKU_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "search_query": results.query,
        "tag_value": request.GET.get("tag", "").strip(),
        "page_obj": page,
        "paginator": page.paginator,
        "results": page.object_list,
    }
    return render(request, "qa/search.html", context)


def _question_page_resources(question) -> tuple[list, list]:
    """The resources ``question`` recommends, in order, and the latest resources, fetched together."""
    rows = list(Resource.objects.for_question_page(question))
    recommended = sorted(
        (r for r in rows if r.link_id is not None), key=lambda r: (r.link_position, r.link_id)
    )
    # The rows hold all of the newest, so the newest among them are those.
    latest = sorted(rows, key=lambda r: (r.created, r.pk), reverse=True)[:LATEST_RESOURCES]
    return recommended, latest


def _qa_page_json_ld(request, question):
    url = request.build_absolute_uri(question.get_absolute_url())
    data = {
        "@context": "https://schema.org",
        "@type": "QAPage",
        "mainEntity": {
            "@type": "Question",
            "name": question.title,
            # Structured data carries text, not Markdown syntax.
            "text": plain_text(question.body_html) or question.title,
            "answerCount": 1,
            "dateCreated": question.created.isoformat(),
            "url": url,
            "acceptedAnswer": {
                "@type": "Answer",
                "text": question.excerpt,
                "dateCreated": question.created.isoformat(),
                "dateModified": (question.answer_updated or question.created).isoformat(),
                "url": url,
            },
        },
    }
    text = json.dumps(data, ensure_ascii=False).translate(_JSON_SCRIPT_ESCAPES)
    return mark_safe(text)  # noqa: S308 - escaped above so it cannot close the script tag


@require_safe
@cache_control(max_age=86400, public=True)
def robots_txt(request):
    sitemap = request.build_absolute_uri(reverse("sitemap"))
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /api/",
        "Disallow: /search/",
        f"Sitemap: {sitemap}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


@require_safe
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


@require_safe
def switch_language(request, language):
    """Set the interface language cookie and go back to ``next``.

    A plain link rather than Django's POST form, so that pages carry no
    per-visitor CSRF token and one cached rendering serves every visitor; the
    only state it changes is the visitor's own preference."""
    if language not in dict(settings.LANGUAGES):
        raise Http404("No such language.")
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("qa:home")
    response = HttpResponseRedirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response
