"""Markdown to safe HTML: the one pipeline used for answers, questions and resources.

Python-Markdown renders (fenced code highlighted by Pygments with CSS classes,
footnotes, tables, heading anchors, LaTeX math as MathML via qa.math, the
question's figures for ``![alt](figure:NAME)``), then nh3 removes everything not on the
allowlist below. Raw HTML in the source is allowed in, and the sanitiser is what
makes it safe. Pure code: no Django imports, so it is tested without a request;
figures come in as plain data (``FigureRef``).
"""

import functools
import html as html_lib
import re
import threading
import xml.etree.ElementTree as etree
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import markdown
import nh3
from markdown.extensions import Extension, codehilite
from markdown.extensions.codehilite import CodeHiliteExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension, slugify_unicode
from markdown.treeprocessors import Treeprocessor
from pygments.formatters.html import HtmlFormatter
from pygments.lexers import get_lexer_by_name

from qa.math import TEX_ENCODING, MathExtension

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "s", "samp", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip

# MathML Core presentation elements, as qa.math writes them, plus the TeX source
# in <annotation>. Never annotation-xml (it can hold HTML), maction or mglyph.
MATHML_TAGS = {
    "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace",
    "msub", "msup", "msubsup", "munder", "mover", "munderover", "mmultiscripts",
    "mprescripts", "none", "mfrac", "msqrt", "mroot", "mstyle", "mpadded", "mphantom",
    "menclose", "merror", "mtable", "mtr", "mtd",
}  # fmt: skip
ALLOWED_TAGS |= MATHML_TAGS

# Layout attributes only: no href, style, mathcolor/mathbackground (the theme
# sets colours) and no src.
_MATH_TABLE = {"columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines", "rowlines"}
MATHML_ATTRIBUTES = {
    "math": {"display", "displaystyle", "scriptlevel"},
    "mi": {"mathvariant"},
    "mn": {"mathvariant"},
    "mtext": {"mathvariant"},
    "mo": {
        "mathvariant",
        "stretchy",
        "fence",
        "separator",
        "lspace",
        "rspace",
        "form",
        "largeop",
        "movablelimits",
        "symmetric",
        "minsize",
        "maxsize",
        "accent",
    },  # fmt: skip
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant"},
    "mfrac": {"linethickness"},
    "mover": {"accent"},
    "munder": {"accentunder"},
    "munderover": {"accent", "accentunder"},
    "mspace": {"width", "height", "depth"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"},
    "menclose": {"notation"},
    "mtable": {"displaystyle", "frame", "framespacing", *_MATH_TABLE},
    "mtr": {"columnalign", "rowalign"},
    "mtd": {"columnalign", "rowalign", "columnspan", "rowspan"},
    "annotation": {"encoding"},
}

ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang"},
    "a": {"href"},
    # src and srcset only ever name the site's own files (see _site_urls_only).
    "img": {"src", "alt", "width", "height", "srcset", "sizes", "loading", "decoding"},
    "ol": {"start"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    **MATHML_ATTRIBUTES,
}

URL_SCHEMES = {"http", "https", "mailto"}


class _LabelledHtmlFormatter(HtmlFormatter):
    """Pygments HTML with the fence's language name as a label above the code."""

    def __init__(self, lang_str: str = "", **options):
        language = lang_str.removeprefix("language-")
        # Code without a declared language comes through as "text": no label then.
        if language and language != "text":
            options.setdefault("filename", language)
        super().__init__(**options)

    # Pygments builds the style's class table for every code block, which costs more
    # than highlighting a short block; it depends only on the style and the prefix.
    _stylesheets: dict = {}

    def _create_stylesheet(self):
        key = (self.style, self.classprefix)
        if key not in self._stylesheets:
            super()._create_stylesheet()
            self._stylesheets[key] = (self.ttype2class, self.class2style)
        self.ttype2class, self.class2style = self._stylesheets[key]


@functools.lru_cache(maxsize=256)
def _lexer_class(alias: str) -> type:
    return type(get_lexer_by_name(alias))


def _lexer_by_name(alias: str, **options):
    """Pygments' ``get_lexer_by_name`` with the class found once per language name:
    the search walks every lexer's aliases, a fifth of a millisecond per code block,
    a quarter of rendering a short answer."""
    return _lexer_class(alias)(**options)


# CodeHilite calls the function under the name it imported.
codehilite.get_lexer_by_name = _lexer_by_name


def _extensions():
    return [
        # Before fenced_code, which it leaves every non-math fence to.
        MathExtension(),
        "fenced_code",
        # align="..." rather than style="text-align:..": the CSP forbids inline styles.
        TableExtension(use_align_attribute=True),
        "sane_lists",
        "abbr",
        "def_list",
        CodeHiliteExtension(
            css_class="highlight",
            guess_lang=False,
            use_pygments=True,
            pygments_formatter=_LabelledHtmlFormatter,
        ),
        FootnoteExtension(BACKLINK_TITLE="返回正文", SUPERSCRIPT_TEXT="{}"),
        TocExtension(slugify=slugify_unicode, permalink="#", permalink_title="本节链接"),
    ]


# "(max-width: 900px) 100vw, 800px": width conditions and lengths, nothing else.
_SIZE = r"(?:\((?:max|min)-width: ?\d{1,5}px\) )?\d{1,5}(?:px|vw)"
_SIZES = re.compile(rf"{_SIZE}(?:, ?{_SIZE}){{0,5}}")
_IMAGE_ATTRIBUTE_VALUES = {"loading": {"lazy", "eager"}, "decoding": {"async", "sync", "auto"}}


def _is_site_url(url: str) -> bool:
    """A URL on this site: a path with no scheme and no host (``//host`` is another site)."""
    url = url.strip()
    if not url or "\\" in url or any(ord(c) < 32 for c in url):
        return False
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith("//")


def _site_urls_only(element: str, attribute: str, value: str) -> str | None:
    """nh3 attribute filter: an image's sources are the site's own files, never a
    data:, javascript: or other site's URL (the CSP allows the site's images only)."""
    if element != "img":
        return value
    if attribute == "src":
        return value if _is_site_url(value) else None
    if attribute == "srcset":
        candidates = [candidate.split() for candidate in value.split(",")]
        if all(len(c) in (1, 2) and _is_site_url(c[0]) for c in candidates):
            return value
        return None
    if attribute == "sizes":
        return value if _SIZES.fullmatch(value) else None
    if attribute in _IMAGE_ATTRIBUTE_VALUES:
        return value if value in _IMAGE_ATTRIBUTE_VALUES[attribute] else None
    return value


@functools.cache
def _cleaner() -> nh3.Cleaner:
    # Built once: handing nh3 the allow-lists on every call cost five times the cleaning.
    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_site_urls_only,
        url_schemes=URL_SCHEMES,
        clean_content_tags={"script", "style"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


@functools.cache
def _text_only() -> nh3.Cleaner:
    return nh3.Cleaner(tags=set(), clean_content_tags={"script", "style"})


def sanitize_html(html: str) -> str:
    """Keep formatting, drop scripts, handlers, styles, frames and unsafe URLs."""
    return _cleaner().clean(html)


# --- Figures: ![alt](figure:NAME) -----------------------------------------------------------

FIGURE_SCHEME = "figure:"
# The answer column is about 800 CSS pixels wide; below 900 px it spans the screen.
FIGURE_SIZES = "(max-width: 900px) 100vw, 800px"


@dataclass(frozen=True)
class FigureRef:
    """What the renderer needs to show one figure; ``narrow_url`` is None when
    the image is no wider than its narrow variant would be."""

    url: str
    width: int
    height: int
    narrow_url: str | None = None
    narrow_width: int | None = None
    caption: str = ""


def figure_snippet(name: str, alt: str) -> str:
    """The Markdown that shows figure ``name``."""
    escaped = alt.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"![{escaped}]({FIGURE_SCHEME}{name})"


class _FigureTreeprocessor(Treeprocessor):
    """Turns ``<img src="figure:NAME">`` into the figure's markup: a ``<figure>``
    with its caption when the image stands alone in a paragraph, the bare
    ``<img>`` inside running text, and the alt text with a visible note for a
    name the question has no figure for."""

    def __init__(self, md, figures: Mapping[str, FigureRef]):
        super().__init__(md)
        self.figures = figures

    def run(self, root):
        found = [
            (parent, child)
            for parent in root.iter()
            for child in parent
            if child.tag == "img" and child.get("src", "").startswith(FIGURE_SCHEME)
        ]
        for parent, img in found:
            name = img.get("src", "")[len(FIGURE_SCHEME) :]
            figure = self.figures.get(name)
            if figure is None:
                _replace(parent, img, _missing(name, img.get("alt", "")))
                continue
            _set_image(img, figure)
            alone = (
                parent.tag == "p" and len(parent) == 1 and not (parent.text or "").strip()
                and not (img.tail or "").strip()
            )  # fmt: skip
            if alone:
                parent.tag, parent.text, img.tail = "figure", None, None
                if figure.caption:
                    caption = etree.SubElement(parent, "figcaption")
                    caption.text = figure.caption


def _set_image(img, figure: FigureRef) -> None:
    img.set("src", figure.url)
    img.set("width", str(figure.width))
    img.set("height", str(figure.height))
    img.set("loading", "lazy")
    img.set("decoding", "async")
    if figure.narrow_url and figure.narrow_width:
        img.set("srcset", f"{figure.narrow_url} {figure.narrow_width}w, {figure.url} {figure.width}w")
        img.set("sizes", FIGURE_SIZES)


def _missing(name: str, alt: str):
    note = etree.Element("span", {"class": "figure-missing"})
    note.text = alt or name
    label = etree.SubElement(note, "span", {"class": "figure-missing__note"})
    label.text = f"（缺少插图 “{name}”）"
    return note


def _replace(parent, old, new) -> None:
    new.tail = old.tail
    parent[list(parent).index(old)] = new


class _FigureExtension(Extension):
    def __init__(self, figures: Mapping[str, FigureRef]):
        super().__init__()
        self.figures = figures

    def extendMarkdown(self, md):
        # After the inline patterns (priority 20) have made the <img> elements.
        md.treeprocessors.register(_FigureTreeprocessor(md, self.figures), "zhiku_figures", 15)


# --- Rendering --------------------------------------------------------------------------------

# An answer with this many headings or more gets a table of contents.
TOC_MIN_HEADINGS = 3


@dataclass(frozen=True)
class Rendered:
    html: str
    toc_html: str  # "" unless the text has TOC_MIN_HEADINGS headings or more


def render_document(text: str, *, figures: Mapping[str, FigureRef] | None = None) -> Rendered:
    """Render Markdown source to sanitised HTML and its table of contents."""
    if not text or not text.strip():
        return Rendered(html="", toc_html="")
    md = _converter()
    md.treeprocessors["zhiku_figures"].figures = figures or {}
    try:
        html = md.convert(text)
        toc_html = _toc_html(md.toc_tokens)
    finally:
        # A Markdown instance keeps per-document state (footnotes, ids, abbreviations, figures).
        md.treeprocessors["zhiku_figures"].figures = {}
        md.reset()
    return Rendered(html=sanitize_html(html), toc_html=toc_html)


def render_markdown(text: str, *, figures: Mapping[str, FigureRef] | None = None) -> str:
    """Render Markdown source to sanitised HTML ("" for empty input)."""
    return render_document(text, figures=figures).html


def _toc_html(tokens: list[dict]) -> str:
    """Nested lists of links to the heading anchors, or "" for a text with few headings."""

    def count(items):
        return sum(1 + count(item["children"]) for item in items)

    def lists(items):
        entries = "".join(
            f'<li><a href="#{html_lib.escape(item["id"])}">{item["name"]}</a>'
            f"{lists(item['children']) if item['children'] else ''}</li>"
            for item in items
        )
        return f"<ol>{entries}</ol>"

    if count(tokens) < TOC_MIN_HEADINGS:
        return ""
    # Names are the headings' text, already escaped by the toc extension; the
    # sanitiser has the last word all the same.
    return sanitize_html(lists(tokens))


_local = threading.local()


def _converter() -> markdown.Markdown:
    """This thread's Markdown instance: building one (extensions, parsers) costs more
    than rendering a short answer, and bulk imports render thousands."""
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = markdown.Markdown(
            extensions=[*_extensions(), _FigureExtension({})], tab_length=4, output_format="html"
        )
        md.stripTopLevelTags = True
    return md


# Decorations the renderer adds that are not part of the text.
_DECORATION = re.compile(
    r'<a class="headerlink"[^>]*>.*?</a>|<span class="filename">.*?</span>'
    r'|<sup id="fnref[^"]*">.*?</sup>|<div class="footnote">.*?</div>\s*$'
    r'|<span class="figure-missing__note">.*?</span>',
    re.DOTALL,
)


# A formula's MathML text ("σ(z)i=ezi∑jezj") reads badly as plain text; its TeX
# annotation, between dollars, is what a reader of an excerpt or a feed recognises.
_MATH = re.compile(r"<math\b[^>]*>.*?</math>", re.DOTALL)
_TEX_ANNOTATION = re.compile(
    rf'<annotation encoding="{re.escape(TEX_ENCODING)}">(.*?)</annotation>', re.DOTALL
)


def _formula_as_tex(match: re.Match) -> str:
    annotation = _TEX_ANNOTATION.search(match[0])
    return f"${annotation[1]}$" if annotation else match[0]


def plain_text(html: str) -> str:
    """Visible text of rendered HTML, whitespace folded (for excerpts and descriptions).

    A formula reads as its LaTeX source between dollars.
    """
    if not html:
        return ""
    html = _MATH.sub(_formula_as_tex, _DECORATION.sub("", html))
    text = _text_only().clean(html)
    return " ".join(html_lib.unescape(text).split())


# Blocks that read badly as running text in an excerpt: code, tables, display math and figures.
_NOT_PROSE = re.compile(
    r'<div class="highlight">.*?</pre>\s*</div>|<table>.*?</table>|<div class="math-display[^"]*">.*?</div>'
    r"|<figure>.*?</figure>",
    re.DOTALL,
)
_HEADING_END = re.compile(r"</h[1-6]>")


def excerpt(html: str, length: int = 300) -> str:
    """The first ``length`` characters of the prose, cut with an ellipsis.

    Code blocks, tables and display formulas are left out (inline formulas
    read as their LaTeX source) and a heading is set off from the text
    after it, so "related questions" read as sentences; an answer that is all
    code or tables falls back to its whole visible text.
    """
    prose = _HEADING_END.sub(" · ", _NOT_PROSE.sub(" ", html))
    text = plain_text(prose) or plain_text(html)
    if len(text) <= length:
        return text
    return text[:length].rstrip() + "…"


def pygments_css(style: str = "default", selector: str = ".highlight") -> str:
    """Pygments rules for one style under ``selector``."""
    return HtmlFormatter(style=style).get_style_defs(selector)


def site_pygments_css() -> str:
    """static/css/pygments.css: light code colours, dark ones when the system or
    the theme toggle asks for dark (``make pygments-css`` writes it)."""
    return "".join(
        [
            "/* Generated by qa.markdown.site_pygments_css(); regenerate with make pygments-css. */\n",
            pygments_css("default"),
            "\n@media (prefers-color-scheme: dark) {\n",
            pygments_css("monokai", ":root:not([data-theme=light]) .highlight"),
            "\n}\n",
            pygments_css("monokai", ":root[data-theme=dark] .highlight"),
            "\n",
        ]
    )
