"""Markdown to safe HTML: the one pipeline used for answers, questions and resources.

Python-Markdown renders (fenced code highlighted by Pygments with CSS classes,
footnotes, tables, heading anchors, LaTeX math as MathML via qa.math), then nh3 removes everything not on the
allowlist below. Raw HTML in the source is allowed in, and the sanitiser is what
makes it safe. Pure code: no Django imports, so it is tested without a request.
"""

import html as html_lib
import re
import threading

import markdown
import nh3
from markdown.extensions.codehilite import CodeHiliteExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension, slugify_unicode
from pygments.formatters.html import HtmlFormatter

from qa.math import TEX_ENCODING, MathExtension

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
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
    "img": {"src", "alt", "width", "height"},
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


def sanitize_html(html: str) -> str:
    """Keep formatting, drop scripts, handlers, styles, frames and unsafe URLs."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        clean_content_tags={"script", "style"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Render Markdown source to sanitised HTML ("" for empty input)."""
    if not text or not text.strip():
        return ""
    md = _converter()
    try:
        html = md.convert(text)
    finally:
        # A Markdown instance keeps per-document state (footnotes, ids, abbreviations).
        md.reset()
    return sanitize_html(html)


_local = threading.local()


def _converter() -> markdown.Markdown:
    """This thread's Markdown instance: building one (extensions, parsers) costs more
    than rendering a short answer, and bulk imports render thousands."""
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = markdown.Markdown(extensions=_extensions(), tab_length=4, output_format="html")
        md.stripTopLevelTags = True
    return md


# Decorations the renderer adds that are not part of the text.
_DECORATION = re.compile(
    r'<a class="headerlink"[^>]*>.*?</a>|<span class="filename">.*?</span>'
    r'|<sup id="fnref[^"]*">.*?</sup>|<div class="footnote">.*?</div>\s*$',
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
    html = _MATH.sub(_formula_as_tex, _DECORATION.sub("", html))
    text = nh3.clean(html, tags=set(), clean_content_tags={"script", "style"})
    return " ".join(html_lib.unescape(text).split())


# Blocks that read badly as running text in an excerpt: code, tables and display math.
_NOT_PROSE = re.compile(
    r'<div class="highlight">.*?</pre>\s*</div>|<table>.*?</table>|<div class="math-display[^"]*">.*?</div>',
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
