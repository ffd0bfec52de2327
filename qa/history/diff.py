"""Word-level differences between two texts, as escaped HTML with ``<ins>``/``<del>``.

Chinese runs are split into words by the search segmenter (``qa.search.tokenize.words``),
everything else into words, spaces and single punctuation marks, so a diff marks
whole words rather than characters or lines. Pure code: no database, no request.
"""

import re
from difflib import SequenceMatcher

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from qa.search import tokenize

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A run of Chinese, a word, a run of spaces, or any one other character.
_PIECE = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+|\s+|.", re.DOTALL)


def split_words(text: str) -> list[str]:
    """``text`` cut into pieces that join back to it exactly."""
    pieces: list[str] = []
    for match in _PIECE.finditer(text):
        piece = match.group()
        if re.fullmatch(f"[{_CJK}]+", piece):
            # The segmenter cuts a Chinese run into words that join back to the run.
            pieces.extend(tokenize.words(piece))
        else:
            pieces.append(piece)
    return pieces


def word_diff(old: str, new: str) -> SafeString:
    """``new`` with the words not in ``old`` in ``<ins>`` and those gone in ``<del>``."""
    before, after = split_words(old or ""), split_words(new or "")
    out: list[str] = []
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(escape("".join(before[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(''.join(before[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{escape(''.join(after[j1:j2]))}</ins>")
    return mark_safe("".join(out))  # noqa: S308 - every piece of text is escaped above
