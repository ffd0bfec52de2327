"""Who counts as a view or a download (SPEC §5), shared by questions and resources."""

import re
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_BOT = re.compile(r"bot|spider|crawler|slurp", re.IGNORECASE)

VIEW_COOKIE = "zk_seen"
_VIEW_SALT = "zhiku.views"
# Bounds the cookie's size for a visitor who opens very many questions.
_MAX_REMEMBERED = 60


def is_bot(request: HttpRequest) -> bool:
    return bool(_BOT.search(request.headers.get("User-Agent", "")))


def is_countable(request: HttpRequest) -> bool:
    """A GET from something that is not a crawler (HEAD never counts)."""
    return request.method == "GET" and not is_bot(request)


class RecentViews:
    """Questions this browser viewed within the dedup window, kept in a signed cookie.

    A cookie rather than a server-side session: it costs no database or cache
    write per visitor and works the same in every worker process.
    """

    def __init__(self, request: HttpRequest, *, now: float | None = None):
        self.now = time.time() if now is None else now
        self.window = settings.ZHIKU_VIEW_DEDUP_SECONDS
        raw = request.get_signed_cookie(VIEW_COOKIE, default="", salt=_VIEW_SALT)
        self.seen: dict[int, float] = {}
        for item in raw.split(","):
            pk, _, stamp = item.partition(":")
            if pk.isdigit() and stamp.isdigit() and self.now - int(stamp) < self.window:
                self.seen[int(pk)] = int(stamp)

    def __contains__(self, pk: int) -> bool:
        return pk in self.seen

    def add(self, pk: int) -> None:
        self.seen[pk] = int(self.now)

    def store(self, response: HttpResponse) -> None:
        recent = sorted(self.seen.items(), key=lambda item: item[1])[-_MAX_REMEMBERED:]
        response.set_signed_cookie(
            VIEW_COOKIE,
            ",".join(f"{pk}:{int(stamp)}" for pk, stamp in recent),
            salt=_VIEW_SALT,
            max_age=self.window,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
