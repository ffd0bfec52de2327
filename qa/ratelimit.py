"""Per-client rate limits (fixed window counters in the default cache).

With Redis (``REDIS_URL``) the counters are shared by every worker and host;
on local memory each worker process counts on its own, which still bounds abuse.
``ZHIKU_RATELIMIT=off`` disables every limit (load tests, benchmarks).
"""

import functools
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

# scope -> (requests, window in seconds); override with settings.ZHIKU_RATELIMITS.
DEFAULT_LIMITS = {
    "search": (60, 60),
    "invert": (30, 60),
    "download": (60, 60),
}


def client_id(request: HttpRequest) -> str:
    """The client's address; behind a trusted proxy, the last hop it added."""
    if getattr(settings, "ZHIKU_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR", "unknown")


def limit_for(scope: str) -> tuple[int, int]:
    return {**DEFAULT_LIMITS, **getattr(settings, "ZHIKU_RATELIMITS", {})}[scope]


def hit(request: HttpRequest, scope: str) -> int | None:
    """Count one request; return seconds to wait if the client is over its limit, else None."""
    if not settings.ZHIKU_RATELIMIT:
        return None
    limit, window = limit_for(scope)
    now = time.time()
    bucket = int(now // window)
    key = f"rl:{scope}:{client_id(request)}:{bucket}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        return max(1, int((bucket + 1) * window - now))
    return None


def too_many_requests(request: HttpRequest, retry_after: int):
    message = _("Too many requests. Please wait %(seconds)d seconds and try again.") % {
        "seconds": retry_after
    }
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": message}, status=429, json_dumps_params={"ensure_ascii": False})
    else:
        response = render(request, "429.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def ratelimit(scope: str):
    """View decorator: answer 429 with Retry-After once a client exceeds the scope's limit."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            retry_after = hit(request, scope)
            if retry_after is not None:
                return too_many_requests(request, retry_after)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
