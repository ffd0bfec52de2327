"""A scheduled question goes live by itself in every gunicorn worker (SPEC §5a): nothing
is saved at its time, yet each worker's cached pages move on within moments."""

import time
from datetime import timedelta
from urllib.parse import quote

from django.utils import timezone

from tests.conftest import make_question
from tests.test_production_settings import gunicorn_two_workers  # noqa: F401 - the fixture


def test_a_scheduled_question_goes_live_in_both_workers_with_no_command(gunicorn_two_workers):  # noqa: F811
    server = gunicorn_two_workers
    shown = make_question(title="公开的灰度问题", answer="灰度反色的公开回答", tags=["定时测试"])
    later = make_question(
        title="定时上线的灰度问题",
        answer="灰度反色的定时回答",
        tags=["定时测试"],
        publish_at=timezone.now() + timedelta(days=1),
    )
    query = quote("灰度反色")
    pages = ["/questions/", shown.get_absolute_url(), f"/search/?q={query}", f"/api/questions/?q={query}"]

    def bodies(path, n=12):
        # Fresh connections spread over both workers; each caches in its own memory.
        return [server.get(path)[1].decode() for _ in range(n)]

    def statuses(path, n=8):
        return {server.get(path)[0] for _ in range(n)}

    for path in pages:
        assert not any("定时上线" in body for body in bodies(path))
    assert statuses(later.get_absolute_url()) == {404}

    # Moved to two seconds ahead (a write), then the caches are warmed again under the new version.
    later.publish_at = timezone.now() + timedelta(seconds=2)
    later.save()
    for path in pages:
        assert not any("定时上线" in body for body in bodies(path))
    assert statuses(later.get_absolute_url()) == {404}

    # Nothing is written from here on: only the clock moves.
    wait = (later.publish_at - timezone.now()).total_seconds() + 0.3
    assert wait < 5
    time.sleep(max(wait, 0))
    for path in pages:
        assert all("定时上线" in body for body in bodies(path)), path
    assert statuses(later.get_absolute_url()) == {200}
