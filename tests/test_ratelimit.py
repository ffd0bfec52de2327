"""Per-client rate limits: 429 after the limit, reset after the window, per client."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from config import ratelimit
from resources.models import Resource

pytestmark = pytest.mark.django_db


class Clock:
    """Stands in for ``time.time`` so a test can step past a window without sleeping."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(ratelimit, "now", clock)
    return clock


@pytest.fixture
def limits(settings):
    """Small limits for every scope: 3 requests a minute, 2 failed logins per 15 minutes."""
    settings.ZHIKU_RATELIMIT = True
    settings.ZHIKU_RATELIMITS = {
        "search": (3, 60),
        "invert": (3, 60),
        "download": (3, 60),
        "admin-login": (2, 900),
    }
    return settings.ZHIKU_RATELIMITS


@ratelimit.ratelimit("search")
def limited_view(request):
    return HttpResponse("ok")


def call(path="/search/", address="203.0.113.7", **headers):
    request = RequestFactory().get(path, REMOTE_ADDR=address, headers=headers)
    return limited_view(request)


def test_requests_over_the_limit_get_429_with_retry_after(limits, clock):
    assert [call().status_code for _ in range(3)] == [200, 200, 200]
    response = call()
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Too many requests" in response.content.decode() or "请求" in response.content.decode()


def test_limit_resets_when_the_window_ends(limits, clock):
    for _ in range(4):
        call()
    assert call().status_code == 429
    clock.now += 60
    assert call().status_code == 200


def test_retry_after_counts_down_to_the_end_of_the_window(limits, clock):
    clock.now = 60 * 28_333_334 + 40.0  # 40 s into a 60 s window
    for _ in range(3):
        call()
    assert call()["Retry-After"] == "20"


def test_each_client_has_its_own_budget(limits, clock):
    for _ in range(4):
        call(address="203.0.113.7")
    assert call(address="203.0.113.7").status_code == 429
    assert call(address="198.51.100.2").status_code == 200


def test_api_paths_get_a_json_error(limits, clock):
    for _ in range(3):
        call(path="/api/questions/")
    response = call(path="/api/questions/")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "error" in json.loads(response.content)


def test_switching_limits_off_lets_everything_through(limits, clock, settings):
    settings.ZHIKU_RATELIMIT = False
    assert {call().status_code for _ in range(10)} == {200}


def test_forwarded_for_is_ignored_without_a_trusted_proxy(limits, clock, settings):
    """A client cannot dodge its limit by inventing X-Forwarded-For values."""
    settings.ZHIKU_TRUSTED_PROXIES = 0
    statuses = [call(**{"X-Forwarded-For": f"10.0.0.{n}"}).status_code for n in range(5)]
    assert statuses[-1] == 429


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.1.1.1", "192.0.2.1"),
        (1, "1.1.1.1", "1.1.1.1"),
        (1, "6.6.6.6, 1.1.1.1", "1.1.1.1"),  # the leftmost entry is the client's own claim
        (2, "6.6.6.6, 1.1.1.1, 10.0.0.5", "1.1.1.1"),
        (2, "1.1.1.1", "192.0.2.1"),  # fewer hops than proxies: not from our proxies, use the socket
        (1, "not-an-address", "unknown"),
    ],
)
def test_client_address_behind_trusted_proxies(settings, proxies, forwarded, expected):
    settings.ZHIKU_TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", headers={"X-Forwarded-For": forwarded})
    assert ratelimit.client_id(request) == expected


def test_ipv6_clients_share_a_budget_per_64_block():
    factory = RequestFactory()
    one = ratelimit.client_id(factory.get("/", REMOTE_ADDR="2001:db8:1:2::1"))
    two = ratelimit.client_id(factory.get("/", REMOTE_ADDR="2001:db8:1:2:ffff::9"))
    other = ratelimit.client_id(factory.get("/", REMOTE_ADDR="2001:db8:1:3::1"))
    mapped = ratelimit.client_id(factory.get("/", REMOTE_ADDR="::ffff:192.0.2.1"))
    assert one == two == "2001:db8:1:2::/64"
    assert other != one
    assert mapped == "192.0.2.1"


def test_an_unknown_scope_fails_at_import_time_not_on_a_request():
    with pytest.raises(KeyError):
        ratelimit.ratelimit("no-such-scope")


# --- the site's own limited views ------------------------------------------------------------


def exhaust(request_once, limit=3):
    statuses = [request_once().status_code for _ in range(limit + 1)]
    assert all(status != 429 for status in statuses[:limit]), statuses
    return statuses[-1]


def test_search_is_rate_limited(client, limits, clock):
    url = reverse("qa:search")
    assert exhaust(lambda: client.get(url, {"q": "反色"})) == 429


def test_downloads_are_rate_limited(client, limits, clock, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    resource = Resource(title="示例")
    resource.file.save("示例.txt", ContentFile(b"hello"), save=False)
    resource.save()
    url = reverse("resources:download", args=[resource.pk])
    assert exhaust(lambda: client.get(url)) == 429
    resource.refresh_from_db()
    assert resource.downloads == 3  # the refused request did not count


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (4, 4), 100).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["resources:invert", "api:invert"])
def test_image_tool_is_rate_limited(client, limits, clock, name):
    url = reverse(name)

    def post():
        return client.post(url, {"image": ContentFile(png_bytes(), name="a.png")})

    response = post()
    assert response.status_code == 200
    assert exhaust(post, limit=2) == 429


# --- admin login -----------------------------------------------------------------------------


@pytest.fixture
def staff(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
    return get_user_model().objects.create_superuser("editor", "editor@example.com", "Correct-horse-42")


def login(client, password, username="editor", address="203.0.113.9"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def test_admin_login_locks_after_repeated_failures(client, staff, limits, clock):
    assert login(client, "wrong-1").status_code == 200
    assert login(client, "wrong-2").status_code == 200
    locked = login(client, "Correct-horse-42")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session  # the right password did not get through


def test_admin_login_lock_lifts_after_the_window(client, staff, limits, clock):
    login(client, "wrong-1")
    login(client, "wrong-2")
    clock.now += 900
    assert login(client, "Correct-horse-42").status_code == 302


def test_admin_login_lock_is_per_client(client, staff, limits, clock):
    login(client, "wrong-1")
    login(client, "wrong-2")
    assert login(client, "Correct-horse-42", address="198.51.100.20").status_code == 302


def test_one_client_cannot_spray_many_usernames(client, staff, limits, clock):
    for n in range(8):  # 4 × the per-pair allowance
        login(client, "guess", username=f"user{n}")
    assert login(client, "Correct-horse-42").status_code == 429


def test_a_successful_login_forgives_earlier_typos(client, staff, limits, clock):
    login(client, "typo")
    assert login(client, "Correct-horse-42").status_code == 302
    client.logout()
    login(client, "typo again")
    assert login(client, "Correct-horse-42").status_code == 302
