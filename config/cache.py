"""The Redis cache, failing soft: while Redis is unreachable every read is a miss
and every write is dropped, so pages are rebuilt from the database instead of
failing (docs/deploy.md, "If Redis goes away").

``incr`` is left to raise: the rate limits (config.ratelimit) catch it, log and
fail open, which is their decision to make, not the cache's. ``probe`` raises
too, for /readyz, which must report the outage rather than hide it.
"""

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# An outage fails every request; one log line per interval per process says so.
_LOG_INTERVAL = 10.0


class _OutageLog:
    def __init__(self):
        self.lock = threading.Lock()
        self.last = 0.0
        self.suppressed = 0

    def failed(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.last < _LOG_INTERVAL:
                self.suppressed += 1
                return
            self.last, suppressed, self.suppressed = now, self.suppressed, 0
        logger.warning(
            "cache unavailable (%s on %s: %s); treated as a miss, %d more failures since the last line",
            type(exc).__name__, operation, exc, suppressed,
        )  # fmt: skip


class FailSoftRedisCache(RedisCache):
    """Django's RedisCache where a Redis error is logged and treated as a miss."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._outage = _OutageLog()

    def _soft(self, operation: str, call, fallback):
        try:
            return call()
        except RedisError as exc:
            self._outage.failed(operation, exc)
            return fallback

    def probe(self) -> None:
        """Raise if Redis does not answer (for /readyz)."""
        self._cache.get_client(write=True).ping()

    def get(self, key, default=None, version=None):
        parent = super()
        return self._soft("get", lambda: parent.get(key, default, version), default)

    def get_many(self, keys, version=None):
        parent = super()
        return self._soft("get_many", lambda: parent.get_many(keys, version), {})

    def has_key(self, key, version=None):
        parent = super()
        return self._soft("has_key", lambda: parent.has_key(key, version), False)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        parent = super()
        return self._soft("add", lambda: parent.add(key, value, timeout, version), False)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        parent = super()
        self._soft("set", lambda: parent.set(key, value, timeout, version), None)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        parent = super()
        return self._soft("set_many", lambda: parent.set_many(data, timeout, version), list(data))

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        parent = super()
        return self._soft("touch", lambda: parent.touch(key, timeout, version), False)

    def delete(self, key, version=None):
        parent = super()
        return self._soft("delete", lambda: parent.delete(key, version), False)

    def delete_many(self, keys, version=None):
        parent = super()
        self._soft("delete_many", lambda: parent.delete_many(keys, version), None)
