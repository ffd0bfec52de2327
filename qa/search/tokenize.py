"""Turning Chinese/English text into search tokens: pure functions, no Django.

Both the indexer and the query parser go through ``normalize`` so that
traditional characters, full-width letters and letter case never decide
whether something matches.

A document yields two kinds of tokens:

* words: jieba's segmentation of each run of Chinese characters, plus
  identifier-like runs of letters/digits (``pg_trgm``, ``f()``, ``c++``);
* grams: every Chinese character and every pair of neighbouring characters.

Grams make any Chinese substring findable whatever jieba decided: a query
word of two or more characters matches a document containing all of its
pairs, one character matches its unigram. Tokens written to the full-text
engines contain only ``[a-z0-9]`` and CJK ideographs (anything else is
hex-encoded by ``encode``), so neither FTS5 nor tsquery syntax can be
injected through them.

jieba learns the site's own words from data, not code: ``dictionary.txt``
beside this module, and whatever ``set_word_source`` supplies (``qa.search.index``
passes the tag names) plus ``add_words`` later (a tag just created or renamed).
"""

import logging
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

# One query is cut to this many characters before parsing, and to this many groups.
MAX_QUERY_CHARS = 200
MAX_QUERY_GROUPS = 12
MAX_TOKEN_CHARS = 40
MAX_ENCODED_CHARS = 100

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
# Letters/digits/underscore that are not ideographs, optionally ending like an
# identifier people search for: ``F()``, ``c++``, ``c#``.
_WORD = re.compile(rf"[^\W{_CJK}]+(?:\(\)|\+\+|#)?")
_PLAIN = re.compile(rf"^(?:[a-z0-9]+|[{_CJK}]+)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Function words that carry no meaning in a question ("how do I ... in Python").
_STOPWORDS = (
    "的 了 吗 呢 啊 吧 么 是 在 和 与 及 或 把 被 将 用 对 从 中 里 上 下 个 这 那 有 也 就 都 要 会 能 可以 "
    "怎么 怎样 怎么样 如何 什么 为什么 哪些 哪个 一个 一下 我 你 他 它 我们 请问 "
    "a an the of to in on for and or not is are be how do does what why which with by from"
)
QUERY_STOPWORDS = frozenset(_STOPWORDS.split())

# Domain words jieba must keep whole, shipped with the package (one per line).
DICTIONARY = Path(__file__).with_name("dictionary.txt")

_jieba = None
_jieba_lock = threading.Lock()
_jieba_cache_dir: str | None = None
_word_source: Callable[[], Iterable[str]] | None = None
_learned: set[str] = set()


def set_cache_dir(path: str) -> None:
    """Where jieba keeps its dictionary cache (must be writable); call before first use."""
    global _jieba_cache_dir
    _jieba_cache_dir = str(path)


def set_word_source(source: Callable[[], Iterable[str]]) -> None:
    """More domain words (the site's tag names), read when the segmenter first loads."""
    global _word_source
    _word_source = source


def dictionary_words(path: Path = DICTIONARY) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _segmenter():
    """jieba, initialised once per process, quietly, with its cache in var/."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                if _jieba_cache_dir:
                    os.makedirs(_jieba_cache_dir, exist_ok=True)
                    jieba.dt.tmp_dir = _jieba_cache_dir
                jieba.initialize()
                _learned.update(_segmentable(dictionary_words()))
                if _word_source is not None:
                    _learned.update(_segmentable(_word_source()))
                for word in _learned:
                    jieba.add_word(word)
                _jieba = jieba
    return _jieba


def _segmentable(words: Iterable[str]) -> set[str]:
    """The runs of two or more Chinese characters in ``words``: all that jieba ever cuts."""
    return {run for word in words for run in _CJK_RUN.findall(normalize(word)) if len(run) > 1}


def add_words(words: Iterable[str]) -> None:
    """Teach the segmenter more domain words (a tag just named), from now on."""
    new = _segmentable(words) - _learned
    if not new:
        return
    with _jieba_lock:
        _learned.update(new)
        if _jieba is not None:
            for word in new:
                _jieba.add_word(word)
            # Runs cut before may now cut differently.
            _cut.cache_clear()


def loaded() -> bool:
    """Whether this process has loaded the segmenter already."""
    return _jieba is not None


def warm_up() -> None:
    """Load jieba's dictionary and the OpenCC tables now rather than on the first search.

    Called once by the WSGI entry point: gunicorn preloads the app in its master
    process, so the workers fork with both loaded (about a second of work each)."""
    _segmenter()
    normalize("預熱")


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _triggers() -> frozenset[str] | None:
    """One character of every entry of the conversion tables that changes text.

    An entry only applies to text holding all of its characters, so text with
    none of these comes out of the conversion unchanged, and most simplified
    text has none: the check is a set lookup per character, where the
    conversion (pure Python) costs a dictionary search per position. The chosen
    character is a traditional one where the entry has it (``麼`` of ``么麼``),
    else the first that the entry changes (``覆`` of ``答覆 → 答复``). None when
    the tables cannot be read (another version of the converter): every text is
    converted then."""
    chain = getattr(_t2s(), "_dict_chain_data", None)
    if not isinstance(chain, list):
        return None
    tables = [entry[2] for group in chain for entry in group]
    changing = [
        (key, value.split(" ")[0]) for table in tables for key, value in table.items() if value != key
    ]
    traditional = {key for key, _ in changing if len(key) == 1}

    def trigger(key: str, value: str) -> str:
        for char in key:
            if char in traditional:
                return char
        return next((a for a, b in zip(key, value, strict=False) if a != b), key[0])

    return frozenset(trigger(key, value) for key, value in changing)


def to_simplified(text: str) -> str:
    triggers = _triggers()
    if triggers is not None and triggers.isdisjoint(text):
        return text
    return _t2s().convert(text)


def normalize(text: str) -> str:
    """Simplified characters, half-width letters, lower case, no control characters."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFKC", text))
    return to_simplified(text).lower()


def initials(text: str, limit: int = 200) -> str:
    """The pinyin initials of the Chinese characters of normalised ``text``, other
    letters and digits as they are, one run per word: ``用python做灰度反色`` → ``y python zhdfs``."""
    from pypinyin.seg.mmseg import seg

    runs = []
    for piece in _PIECE.finditer(text):
        word = piece.group()
        if _CJK_RUN.fullmatch(word):
            # pypinyin reads a run phrase by phrase (its own longest-match segmentation)
            # and gives each phrase the same letters wherever it stands.
            runs.append("".join(_phrase_initials(phrase) for phrase in seg.cut(word)))
        else:
            runs.append(word)
    return " ".join(run for run in runs if run)[:limit]


@lru_cache(maxsize=50000)
def _phrase_initials(phrase: str) -> str:
    # Converting a syllable's style is most of pypinyin's cost; phrases repeat, their
    # number is bounded by its dictionary (and single characters).
    from pypinyin import Style, lazy_pinyin

    return "".join(syllable[:1] for syllable in lazy_pinyin(phrase, style=Style.FIRST_LETTER))


def encode(token: str) -> str:
    """A token as the full-text engines store it: plain ones as they are,
    anything with punctuation or other scripts as ``zx`` + hex of its UTF-8."""
    if _PLAIN.match(token):
        return token[:MAX_ENCODED_CHARS]
    return ("zx" + token.encode("utf-8").hex())[:MAX_ENCODED_CHARS]


def surface(token: str) -> str:
    """The text an encoded token stands for."""
    if token.startswith("zx"):
        try:
            return bytes.fromhex(token[2:]).decode("utf-8")
        except ValueError:
            return token
    return token


def _word_tokens(match: str) -> list[str]:
    """``pg_trgm`` also yields ``pg`` and ``trgm``; ``f()`` also yields ``f``."""
    token = match.strip("_")[:MAX_TOKEN_CHARS]
    if not token:
        return []
    tokens = [token]
    base = token.removesuffix("()")
    if base != token and base:
        tokens.append(base)
    if "_" in base:
        tokens.extend(part for part in base.split("_") if part)
    return tokens


@lru_cache(maxsize=20000)
def _cut(run: str) -> tuple[str, ...]:
    # Sentences recur (headings, boilerplate), so segmenting each distinct run once pays.
    return tuple(_segmenter().cut(run, HMM=True))


_PIECE = re.compile(rf"[{_CJK}]+|{_WORD.pattern}")


def _pieces(text: str):
    """(word, is_chinese) for each jieba word and each identifier-like run."""
    for match in _PIECE.finditer(text):
        piece = match.group()
        if _CJK_RUN.fullmatch(piece):
            for word in _cut(piece):
                yield word, True
        else:
            yield piece, False


def words(text: str) -> list[str]:
    """Word tokens of already normalised text, in order, repeats kept."""
    out: list[str] = []
    for piece, chinese in _pieces(text):
        out.extend([piece] if chinese else _word_tokens(piece))
    return out


def grams(text: str) -> list[str]:
    """Every ideograph and every pair of neighbouring ideographs."""
    out: list[str] = []
    for run in _CJK_RUN.findall(text):
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def document_tokens(text: str) -> list[str]:
    """The encoded, de-duplicated tokens indexed for normalised ``text``."""
    return list(dict.fromkeys(encode(t) for t in [*words(text), *grams(text)]))


@dataclass(frozen=True)
class Group:
    """One meaningful piece of a query.

    ``surface`` is the normalised text shown and highlighted; a document
    matches the group when it has all tokens of ``all_of`` or, for a typo
    corrected by the vocabulary, any of ``any_of``, or when it matches one of
    the ``synonyms`` (groups of their own, from the site's synonym groups)."""

    surface: str
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    synonyms: tuple["Group", ...] = ()

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.all_of or self.any_of

    @property
    def variants(self) -> tuple["Group", ...]:
        """The group as typed, then each synonym: a document matching any of them matches."""
        if not self.synonyms:
            return (self,)
        return (replace(self, synonyms=()), *self.synonyms)

    @property
    def all_tokens(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(token for variant in self.variants for token in variant.tokens))

    @property
    def is_ascii_word(self) -> bool:
        return bool(re.fullmatch(r"[a-z]{4,}", self.surface))

    def with_alternatives(self, alternatives: list[str]) -> "Group":
        return Group(surface=self.surface, any_of=tuple(alternatives))

    def matches_text(self, text: str) -> bool:
        """Whether normalised ``text`` contains this group (the pure reference of a match)."""
        if self.synonyms:
            return any(variant.matches_text(text) for variant in self.variants)
        if self.any_of:
            return any(surface(alt) in text for alt in self.any_of)
        return all(surface(token) in text for token in self.all_of)

    def count_in(self, text: str) -> int:
        """How often the group's words occur in normalised ``text``."""
        if self.synonyms:
            return sum(variant.count_in(text) for variant in self.variants)
        if self.any_of:
            return sum(text.count(surface(alt)) for alt in self.any_of)
        return text.count(self.surface)


def _query_text(query: str) -> str:
    return normalize(query[: MAX_QUERY_CHARS * 2])[:MAX_QUERY_CHARS]


def query_key(query: str) -> str:
    """The part of ``query`` search reads, as one string (for cache keys)."""
    return " ".join(_query_text(query).split())


def _groups_of(text: str, groups: dict[str, Group]) -> None:
    for piece, chinese in _pieces(text):
        if len(groups) >= MAX_QUERY_GROUPS:
            return
        tokens = [piece] if chinese else _word_tokens(piece)
        if not tokens:
            continue
        word = tokens[0]
        if word in QUERY_STOPWORDS or word in groups:
            continue
        if chinese:
            pieces = [word] if len(word) == 1 else [word[i : i + 2] for i in range(len(word) - 1)]
            groups[word] = Group(surface=word, all_of=tuple(dict.fromkeys(pieces)))
        else:
            groups[word] = Group(surface=word, all_of=(encode(word),))


def parse_query(query: str, synonyms: "Synonyms | None" = None) -> list[Group]:
    """The groups of a user's query, stopwords dropped, at most ``MAX_QUERY_GROUPS``.

    With ``synonyms``, each synonym term found in the query (``代价函数``,
    ``loss function``) becomes one group that also matches the other terms of
    its synonym group."""
    text = _query_text(query)
    groups: dict[str, Group] = {}
    if synonyms is None or not synonyms.table:
        _groups_of(text, groups)
        return list(groups.values())
    rest = 0
    for match in synonyms.pattern.finditer(text):
        _groups_of(text[rest : match.start()], groups)
        term = match.group()
        if term not in groups and len(groups) < MAX_QUERY_GROUPS:
            groups[term] = replace(
                term_group(term),
                synonyms=tuple(term_group(other) for other in synonyms.table[term]),
            )
        rest = match.end()
    _groups_of(text[rest:], groups)
    return [group for group in groups.values() if group.tokens]


@lru_cache(maxsize=4096)
def term_group(term: str) -> Group:
    """A whole (normalised) term as one group: every token of its words."""
    groups: dict[str, Group] = {}
    _groups_of(term, groups)
    tokens = tuple(dict.fromkeys(token for group in groups.values() for token in group.tokens))
    return Group(surface=term, all_of=tokens)


@dataclass(frozen=True)
class Synonyms:
    """Synonym terms (normalised) and, for each, the other terms it also finds."""

    table: dict[str, tuple[str, ...]]
    pattern: re.Pattern

    @classmethod
    def from_groups(cls, term_lists: Iterable[Iterable[str]]) -> "Synonyms":
        table: dict[str, list[str]] = {}
        for terms in term_lists:
            cleaned = list(dict.fromkeys(t for t in (normalize(str(term)).strip() for term in terms) if t))
            cleaned = [term for term in cleaned if term_group(term).tokens]
            for term in cleaned:
                others = table.setdefault(term, [])
                others.extend(other for other in cleaned if other != term and other not in others)
        # Longest terms first, so "随机梯度下降" wins over "梯度下降"; ASCII terms only as whole words.
        alternatives = [
            (r"(?<![a-z0-9])" + re.escape(term) + r"(?![a-z0-9])") if term.isascii() else re.escape(term)
            for term in sorted(table, key=len, reverse=True)
        ]
        pattern = re.compile("|".join(alternatives) if alternatives else r"(?!)")
        return cls(table={term: tuple(others) for term, others in table.items()}, pattern=pattern)
