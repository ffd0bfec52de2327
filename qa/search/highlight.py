"""Highlighted titles and snippets for search results: ``<mark>`` around matches."""

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from qa.search import tokenize

# Snippets come from the start of the text; reading further costs time for little gain.
_SNIPPET_SCAN = 3000


def _spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where ``terms`` occur in ``text``, ignoring case and, failing that, traditional forms."""
    if not terms:
        return []
    pattern = re.compile("|".join(re.escape(term) for term in terms))
    for fold in (str.lower, lambda value: tokenize.to_simplified(value).lower()):
        folded = fold(text)
        if len(folded) != len(text):  # a fold that moves offsets cannot place marks
            continue
        spans = [m.span() for m in pattern.finditer(folded) if m.end() > m.start()]
        if spans:
            return spans
    return []


def highlight(text: str, terms: list[str]) -> SafeString:
    """``text`` HTML-escaped, with every match of ``terms`` wrapped in ``<mark>``."""
    pieces, last = [], 0
    for start, end in _spans(text, terms):
        pieces.append(escape(text[last:start]))
        pieces.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    pieces.append(escape(text[last:]))
    return mark_safe("".join(pieces))  # noqa: S308 - every piece is escaped above


def snippet(text: str, terms: list[str], length: int = 160) -> SafeString:
    """About ``length`` characters of ``text`` around its first match, highlighted."""
    text = text[:_SNIPPET_SCAN]
    spans = _spans(text, terms)
    start = max(0, spans[0][0] - length // 4) if spans else 0
    piece = text[start : start + length]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + length < len(text) else ""
    return mark_safe(prefix + highlight(piece, terms) + suffix)  # noqa: S308 - highlight escapes
