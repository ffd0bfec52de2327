"""Suggestions as a visitor types: ``GET /api/suggest/?q=`` (SPEC §6).

``{"suggestions": [{"title", "url", "kind"}]}``, at most ``LIMIT``: published
questions whose title starts with or contains the text (traditional
characters folded, letter case ignored) or whose title's pinyin initials do
(``hdfs`` → 灰度反色…), then tags by name the same way. Each process keeps the
titles in memory as one string per kind, searched with ``str.find``, and
reloads them when the content version changes; answers are cached per
content version and text. A request costs one primary-key read (the version)
plus, on a cache miss, a scan in memory.

Not rate limited: a request is that cheap and bounded (the text is cut to
``MAX_CHARS``), and a limit of search's kind would cut off a visitor typing.
"""

import bisect
import hashlib
import threading
from dataclasses import dataclass, field

from django.core.cache import cache
from django.urls import reverse
from django.utils.encoding import iri_to_uri

from qa import freshness
from qa.models import Question, Tag
from qa.search import tokenize

LIMIT = 8
MAX_CHARS = 50
CACHE_SECONDS = 3600


@dataclass
class _Entries:
    """Names of one kind joined by newlines, and what each stands for."""

    items: list[tuple[str, str]] = field(default_factory=list)  # (title, url)
    text: str = "\n"
    initials: str = "\n"
    starts: list[int] = field(default_factory=list)
    initial_starts: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, rows: list[tuple[str, str, str, str]]) -> "_Entries":
        """From rows of (title, url, normalised title, initials)."""
        entries = cls(items=[(title, url) for title, url, _text, _initials in rows])
        text, initials = ["\n"], ["\n"]
        at = initial_at = 1
        for _title, _url, normalised, letters in rows:
            line = normalised.replace("\n", " ")
            entries.starts.append(at)
            text.append(line + "\n")
            at += len(line) + 1
            entries.initial_starts.append(initial_at)
            initials.append(letters + "\n")
            initial_at += len(letters) + 1
        entries.text, entries.initials = "".join(text), "".join(initials)
        return entries

    def find(self, needle: str, limit: int, *, initials: bool = False) -> list[int]:
        """Indexes of entries starting with ``needle``, then of those containing it."""
        haystack, starts = (self.initials, self.initial_starts) if initials else (self.text, self.starts)
        found: dict[int, None] = {}
        for pattern, shift in (("\n" + needle, 1), (needle, 0)):
            at = haystack.find(pattern)
            while at >= 0 and len(found) < limit:
                found.setdefault(bisect.bisect_right(starts, at + shift) - 1, None)
                at = haystack.find(pattern, at + 1)
            if len(found) >= limit:
                break
        return list(found)


class SuggestIndex:
    """Published question titles and tag names, in memory, per content version."""

    def __init__(self):
        self._lock = threading.Lock()
        self.version = None
        self.questions = _Entries()
        self.tags = _Entries()

    def forget(self) -> None:
        self.version = None

    def refresh(self, version: int) -> None:
        if self.version == version:
            return
        with self._lock:
            if self.version == version:
                return
            detail = reverse("qa:detail", kwargs={"pk": 1, "slug": "-"})
            rows = (
                Question.objects.published()
                .filter(search_document__isnull=False)
                .order_by("-views", "-pk")
                .values_list(
                    "pk", "slug", "title", "search_document__title_text", "search_document__title_initials"
                )
            )
            self.questions = _Entries.build(
                [
                    (title, _detail_path(detail, pk, slug), text, letters)
                    for pk, slug, title, text, letters in rows.iterator(chunk_size=5000)
                ]
            )
            tag_path = reverse("qa:tag", kwargs={"slug": "-"})
            self.tags = _Entries.build(
                [
                    (
                        name,
                        tag_path[:-2] + iri_to_uri(slug) + "/",
                        tokenize.normalize(name),
                        tokenize.initials(tokenize.normalize(name)),
                    )
                    for name, slug in Tag.objects.filter(questions__isnull=False)
                    .distinct()
                    .values_list("name", "slug")
                ]
            )
            self.version = version

    def suggest(self, text: str) -> list[dict]:
        needle = " ".join(tokenize.normalize(text[: MAX_CHARS * 2]).split())[:MAX_CHARS]
        if not needle:
            return []
        out: list[dict] = []
        by_initials = needle.isascii() and needle.replace(" ", "").isalpha()
        for kind, entries in (("question", self.questions), ("tag", self.tags)):
            room = LIMIT - len(out)
            found = entries.find(needle, room)
            if by_initials and len(found) < room:
                found += [i for i in entries.find(needle, room, initials=True) if i not in found]
            for i in found[:room]:
                title, url = entries.items[i]
                out.append({"title": title, "url": url, "kind": kind})
        return out


def _detail_path(template: str, pk: int, slug: str) -> str:
    # One reversed path (…/1/-/), filled in per row: reversing 100k URLs would cost a second.
    return f"{template[: -len('1/-/')]}{pk}/{iri_to_uri(slug or 'q')}/"


INDEX = SuggestIndex()


def suggestions(text: str) -> list[dict]:
    """At most ``LIMIT`` suggestions for ``text``, cached per content version."""
    text = (text or "").replace("\x00", " ")
    if not text.strip():
        return []
    version = freshness.current()
    cut = text[: MAX_CHARS * 2]
    key = (
        f"qa:suggest:{version}:" + hashlib.blake2b(cut.encode("utf-8", "replace"), digest_size=16).hexdigest()
    )
    found = cache.get(key)
    if found is None:
        INDEX.refresh(version)
        found = INDEX.suggest(cut)
        cache.set(key, found, CACHE_SECONDS)
    return found
