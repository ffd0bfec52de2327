"""Per-client rate limits: fixed-window counters in the default cache.

With Redis (``REDIS_URL``) the counters are shared by every worker and host;
on local memory each worker process counts on its own, which still bounds abuse
(a client gets at most ``limit × processes`` per window).

Limits come from ``settings.ZHIKU_RATELIMITS`` (``scope -> (requests, seconds)``),
which reads ``ZHIKU_RATELIMIT_<SCOPE>=60/m`` variables; ``ZHIKU_RATELIMIT=off``
disables every limit (load tests, benchmarks). docs/configuration.md lists them.
"""

import functools
import hashlib
import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from config.jsonapi import json_error, wants_json

logger = logging.getLogger(__name__)

# Indirection so tests can move the clock past a window without sleeping.
now = time.time


def client_id(request: HttpRequest) -> str:
    """The address a limit is counted against.

    Behind ``ZHIKU_TRUSTED_PROXIES = n`` proxies, each of which appends the
    address it received from to ``X-Forwarded-For``, the client is the n-th
    entry from the right: anything further left was written by the client and
    can be forged. With no proxy configured the header is ignored. IPv6
    clients are grouped by /64, the block one subscriber usually holds.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.ZHIKU_TRUSTED_PROXIES
    if proxies:
        hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= proxies:
            address = hops[-proxies]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def limit_for(scope: str) -> tuple[int, int]:
    return settings.ZHIKU_RATELIMITS[scope]


def _count(key: str, timeout: int) -> int:
    """Add one to a cache counter that expires ``timeout`` seconds after it is created.

    If the cache itself is down (Redis restarting), limits fail open: serving
    pages matters more than counting, and the outage is logged.
    """
    try:
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=timeout)
            return 1
    except Exception:
        logger.exception("rate limit cache unavailable; not counting %s", key)
        return 0


def hit(request: HttpRequest, scope: str) -> int | None:
    """Count one request; return seconds to wait if the client is over its limit, else None."""
    if not settings.ZHIKU_RATELIMIT:
        return None
    limit, window = limit_for(scope)
    moment = now()
    bucket = int(moment // window)
    count = _count(f"rl:{scope}:{client_id(request)}:{bucket}", window + 1)
    if count > limit:
        return max(1, int((bucket + 1) * window - moment))
    return None


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    message = _("Too many requests. Please wait %(seconds)d seconds and try again.") % {
        "seconds": retry_after
    }
    if wants_json(request):
        response = json_error(message, 429)
    else:
        response = render(request, "429.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def ratelimit(scope: str):
    """View decorator: answer 429 with Retry-After once a client exceeds the scope's limit."""
    limit_for(scope)  # an unknown scope fails at import time, not on the first request

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            retry_after = hit(request, scope)
            if retry_after is not None:
                return too_many_requests(request, retry_after)
            return view(request, *args, **kwargs)

        wrapped.ratelimit_scope = scope
        return wrapped

    return decorator


class LoginGuard:
    """Failed-login counters for one client and username (brute-force protection).

    Failures are counted per (address, username) and per address alone, the
    latter with four times the allowance, so one address cannot try many
    usernames either. Counting by username alone is avoided on purpose: it
    would let anyone lock a known staff member out. Like the limits above, the
    counters live in fixed windows, so a lock lifts when its window ends.
    """

    def __init__(self, request: HttpRequest, username: str):
        self.limit, self.window = limit_for("admin-login")
        moment = now()
        bucket = int(moment // self.window)
        self.retry_after = max(1, int((bucket + 1) * self.window - moment))
        client = client_id(request)
        name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        self.pair_key = f"login:pair:{client}:{name}:{bucket}"
        self.allowances = {self.pair_key: self.limit, f"login:client:{client}:{bucket}": 4 * self.limit}

    def locked(self) -> bool:
        if not settings.ZHIKU_RATELIMIT:
            return False
        try:
            counts = cache.get_many(list(self.allowances))
        except Exception:
            logger.exception("rate limit cache unavailable; login not checked for a lock")
            return False
        return any(counts.get(key, 0) >= allowed for key, allowed in self.allowances.items())

    def failed(self) -> None:
        for key in self.allowances:
            _count(key, self.window + 1)

    def succeeded(self) -> None:
        # Only the pair is forgiven; the address keeps its record for the window.
        try:
            cache.delete(self.pair_key)
        except Exception:
            logger.exception("rate limit cache unavailable; login counter not reset")
