"""Who counts as a view of a question page (SPEC §5)."""

import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from django.test import Client, RequestFactory

from qa import counting
from qa.counting import VIEW_COOKIE, RecentViews, is_bot, is_countable
from qa.models import Question
from tests.conftest import make_question

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
HALF_HOUR = 30 * 60


def views_of(question) -> int:
    return Question.objects.values_list("views", flat=True).get(pk=question.pk)


@pytest.fixture
def clock(monkeypatch):
    """A controllable clock for qa.counting: ``clock.now`` is seconds since the epoch."""
    fake = SimpleNamespace(now=1_700_000_000.0)
    monkeypatch.setattr(counting, "time", SimpleNamespace(time=lambda: fake.now))
    return fake


@pytest.fixture
def browser():
    return Client(HTTP_USER_AGENT=BROWSER)


# --- the pure rules ---------------------------------------------------------------------

rf = RequestFactory()


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "Sogou web SPIDER/4.0",
        "ExampleCrawler/1.0",
        "YANDEXBOT/3.0",
        "sLuRp",
    ],
)
def test_crawler_user_agents_are_bots_in_any_case(agent):
    assert is_bot(rf.get("/", HTTP_USER_AGENT=agent))
    assert not is_countable(rf.get("/", HTTP_USER_AGENT=agent))


@pytest.mark.parametrize("agent", [BROWSER, "curl/8.5.0", ""])
def test_other_user_agents_are_not_bots(agent):
    assert not is_bot(rf.get("/", HTTP_USER_AGENT=agent))
    assert is_countable(rf.get("/", HTTP_USER_AGENT=agent))


def test_request_without_user_agent_counts():
    request = rf.get("/")
    request.META.pop("HTTP_USER_AGENT", None)
    assert is_countable(request)


@pytest.mark.parametrize("method", ["head", "post", "put", "delete", "options"])
def test_only_get_is_countable(method):
    assert not is_countable(getattr(rf, method)("/", HTTP_USER_AGENT=BROWSER))


def _round_trip(recent: RecentViews, *, now: float) -> RecentViews:
    """What the next request sees after ``recent`` was stored in the browser's cookie."""
    from django.http import HttpResponse

    response = HttpResponse()
    recent.store(response)
    request = rf.get("/")
    request.COOKIES[VIEW_COOKIE] = response.cookies[VIEW_COOKIE].value
    return RecentViews(request, now=now)


def test_recent_views_remembers_a_question_for_thirty_minutes():
    start = 1_700_000_000.0
    recent = RecentViews(rf.get("/"), now=start)
    assert 7 not in recent
    recent.add(7)
    assert 7 in _round_trip(recent, now=start + HALF_HOUR - 1)
    assert 7 not in _round_trip(recent, now=start + HALF_HOUR)


def test_recent_views_keeps_each_question_apart():
    start = 1_700_000_000.0
    recent = RecentViews(rf.get("/"), now=start)
    recent.add(1)
    later = _round_trip(recent, now=start + 60)
    later.add(2)
    seen = _round_trip(later, now=start + HALF_HOUR + 1)
    assert 1 not in seen and 2 in seen


def test_recent_views_ignores_a_forged_cookie():
    request = rf.get("/")
    request.COOKIES[VIEW_COOKIE] = "7:9999999999"
    assert 7 not in RecentViews(request, now=1_700_000_000.0)


def test_recent_views_ignores_garbage_in_a_signed_cookie():
    from django.core import signing

    request = rf.get("/")
    request.COOKIES[VIEW_COOKIE] = signing.get_cookie_signer(salt=VIEW_COOKIE + "zhiku.views").sign(
        "x:1,:,7:abc,-3:5,8"
    )
    recent = RecentViews(request, now=1_700_000_000.0)
    assert recent.seen == {}


def test_recent_views_cookie_stays_bounded():
    start = 1_700_000_000.0
    recent = RecentViews(rf.get("/"), now=start)
    for pk in range(1, 500):
        recent.now = start + pk
        recent.add(pk)
    stored = _round_trip(recent, now=start + 600)
    assert len(stored.seen) <= 60
    assert 499 in stored and 1 not in stored


# --- through the question page ------------------------------------------------------------

pytestmark = pytest.mark.django_db


def test_get_counts_one_view_and_shows_it(browser):
    question = make_question()
    response = browser.get(question.get_absolute_url())
    assert response.status_code == 200
    assert views_of(question) == 1
    assert '<span class="views">1 ' in response.content.decode()  # the count shown


def test_head_never_counts(browser):
    question = make_question()
    for _ in range(3):
        assert browser.head(question.get_absolute_url()).status_code == 200
    assert views_of(question) == 0


def test_post_is_refused_and_never_counts(browser):
    question = make_question()
    assert browser.post(question.get_absolute_url()).status_code == 405
    assert views_of(question) == 0


@pytest.mark.parametrize("agent", ["Googlebot/2.1", "baiduSpider", "SomeCRAWLER", "Yahoo! Slurp"])
def test_bots_never_count(agent):
    question = make_question()
    client = Client(HTTP_USER_AGENT=agent)
    client.get(question.get_absolute_url())
    Client(HTTP_USER_AGENT=agent).get(question.get_absolute_url())
    assert views_of(question) == 0


def test_repeat_view_from_same_browser_within_thirty_minutes_counts_once(browser, clock):
    question = make_question()
    url = question.get_absolute_url()
    browser.get(url)
    clock.now += HALF_HOUR - 1
    response = browser.get(url)
    assert views_of(question) == 1
    assert '<span class="views">1 ' in response.content.decode()  # the count shown


def test_repeat_view_after_thirty_minutes_counts_again(browser, clock):
    question = make_question()
    url = question.get_absolute_url()
    browser.get(url)
    clock.now += 10 * 60
    browser.get(url)
    clock.now += HALF_HOUR
    browser.get(url)
    assert views_of(question) == 2


def test_dedup_is_per_question(browser):
    first, second = make_question(), make_question()
    browser.get(first.get_absolute_url())
    browser.get(second.get_absolute_url())
    browser.get(first.get_absolute_url())
    assert (views_of(first), views_of(second)) == (1, 1)


def test_requests_without_cookies_always_count():
    question = make_question()
    for _ in range(4):
        Client(HTTP_USER_AGENT=BROWSER).get(question.get_absolute_url())
    assert views_of(question) == 4


def test_other_browsers_count_separately(clock):
    question = make_question()
    alice, bob = Client(HTTP_USER_AGENT=BROWSER), Client(HTTP_USER_AGENT=BROWSER)
    for client in (alice, bob, alice, bob):
        client.get(question.get_absolute_url())
    assert views_of(question) == 2


def test_a_forged_view_cookie_does_not_suppress_the_count(browser, clock):
    question = make_question()
    browser.cookies[VIEW_COOKIE] = f"{question.pk}:{int(clock.now)}"
    browser.get(question.get_absolute_url())
    assert views_of(question) == 1


def test_view_cookie_is_http_only_and_expires_with_the_window(browser):
    question = make_question()
    cookie = browser.get(question.get_absolute_url()).cookies[VIEW_COOKIE]
    assert cookie["httponly"]
    assert int(cookie["max-age"]) == HALF_HOUR
    assert cookie["samesite"] == "Lax"


def test_redirect_to_canonical_url_does_not_count(browser):
    question = make_question(title="反色")
    assert browser.get(f"/questions/{question.pk}/wrong/").status_code == 301
    assert browser.get(f"/questions/{question.pk}/").status_code == 301
    assert views_of(question) == 0


def test_unpublished_question_is_404_and_not_counted(browser):
    question = make_question(is_published=False)
    assert browser.get(question.get_absolute_url()).status_code == 404
    assert views_of(question) == 0


def test_unknown_question_is_404_and_counts_nothing(browser):
    question = make_question()
    assert browser.get("/questions/999999/x/").status_code == 404
    assert views_of(question) == 0


def test_api_reads_never_count(browser):
    question = make_question()
    assert browser.get(f"/api/questions/{question.pk}/").status_code == 200
    assert browser.get("/api/questions/").status_code == 200
    assert views_of(question) == 0


def test_listing_pages_never_count(browser):
    question = make_question(tags=["python"])
    browser.get("/")
    browser.get("/questions/")
    browser.get(question.tags.get().get_absolute_url())
    assert views_of(question) == 0


def test_a_page_that_fails_to_render_does_not_count(browser, monkeypatch):
    question = make_question()

    def broken(*args, **kwargs):
        raise RuntimeError("failure while building the page")

    monkeypatch.setattr("qa.models.QuestionQuerySet.with_related", broken)
    browser.raise_request_exception = False
    assert browser.get(question.get_absolute_url()).status_code == 500
    assert views_of(question) == 0


# --- concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_views_are_all_counted(live_server):
    """Each thread is its own browser without cookies, so every request counts."""
    question = make_question()
    url = live_server.url + question.get_absolute_url()
    requests = 50
    start = threading.Barrier(requests)

    def fetch(_):
        request = urllib.request.Request(url, headers={"User-Agent": BROWSER})
        start.wait(timeout=30)
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status

    with ThreadPoolExecutor(max_workers=requests) as pool:
        statuses = list(pool.map(fetch, range(requests)))
    assert statuses == [200] * requests
    assert views_of(question) == requests
