"""Readiness for load balancers: ``/readyz`` answers 200 only when this host can
reach the database, the cache and the media storage. ``/healthz`` (qa.views)
only says the process is up.
"""

import logging
import os
import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, storages
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


def check_database() -> None:
    # A real round trip through the ORM (migrations applied, table readable), not only a connect.
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.only("pk").first()


def check_cache() -> None:
    # The Redis cache treats an outage as a miss (config.cache); ask it directly.
    if probe := getattr(cache, "probe", None):
        probe()
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    found = cache.get(key)
    cache.delete(key)
    if found != "1":
        raise RuntimeError("a value written to the cache could not be read back")


def check_storage() -> None:
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        # The storage creates MEDIA_ROOT on the first upload; it must be possible.
        os.makedirs(storage.location, exist_ok=True)
        if not os.access(storage.location, os.W_OK | os.X_OK):
            raise PermissionError(f"{storage.location} is not writable")
    else:
        storage.exists("readyz-probe")  # one HEAD request: the bucket answers and the keys work


CHECKS = {"database": check_database, "cache": check_cache, "storage": check_storage}


def _run(check, outcome: dict) -> None:
    start = time.perf_counter()
    try:
        check()
        outcome["status"] = "ok"
    except Exception as exc:
        logger.warning("readiness check failed", exc_info=True)
        outcome["status"] = "error"
        # The class names the failure without putting hosts or credentials on a public URL.
        outcome["error"] = type(exc).__name__
    finally:
        outcome["ms"] = round((time.perf_counter() - start) * 1000, 1)
        # Each check runs in a thread of its own; its database connection goes with it.
        connections.close_all()


@never_cache
@require_safe
def readyz(request):
    """200 ``{"status": "ok", "checks": {...}}``, or 503 naming the check that failed.

    The checks run side by side, each in its own thread, so a stalled
    dependency costs at most ``ZHIKU_READYZ_TIMEOUT`` seconds however many
    there are. Not rate limited, never cached, counts nothing.
    """
    timeout = settings.ZHIKU_READYZ_TIMEOUT
    outcomes = {name: {} for name in CHECKS}
    threads = [
        threading.Thread(target=_run, args=(check, outcomes[name]), daemon=True, name=f"readyz-{name}")
        for name, check in CHECKS.items()
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    checks = {}
    for name, outcome in outcomes.items():
        result = dict(outcome)
        if "status" not in result:
            logger.warning("readiness check %s timed out after %.1f s", name, timeout)
            result = {"status": "timeout", "error": f"no answer within {timeout:g} s"}
        checks[name] = result
    ready = all(result["status"] == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
