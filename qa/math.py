"""LaTeX formulas in Markdown, rendered once at save time to MathML (SPEC §4, Math).

``$…$`` is inline math, ``$$…$$`` (on its own lines, or within a paragraph) and a
fenced ``math`` block are display math. latex2mathml does the conversion; this
module bounds its input, works around the constructs it gets wrong, and turns
any failure into the formula's source shown as code with a visible note. The
output still goes through the sanitiser in qa.markdown like all other HTML.
Pure code: no Django imports.
"""

import html
import re
import xml.etree.ElementTree as ET

from latex2mathml.converter import convert_to_element
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor

# latex2mathml converts about 13 µs per character; a formula longer than this
# is not a formula anyone writes by hand.
MAX_LENGTH = 4000
# Groups nested deeper than this are refused before the recursive converter
# sees them (it runs out of stack at a few hundred levels).
MAX_DEPTH = 40

ERROR_NOTE = "公式无法显示"
TEX_ENCODING = "application/x-tex"


class MathError(ValueError):
    """A formula that cannot be shown as MathML; the message says why."""


# Constructs latex2mathml (3.81) does not understand, rewritten to ones it does.
_REWRITES = [
    # aligned/alignedat come out as one row with literal "&"; align* is a table.
    (re.compile(r"\\begin\{alignedat\}\{\d+\}|\\begin\{aligned\}"), r"\\begin{align*}"),
    (re.compile(r"\\end\{aligned(?:at)?\}"), r"\\end{align*}"),
    # gather/gathered lose their rows; a one-column matrix centres them the same way.
    (re.compile(r"\\(begin|end)\{gather(?:ed|\*)?\}"), r"\\\1{matrix}"),
    (re.compile(r"\\(begin|end)\{equation\*?\}"), ""),
    # \arg is printed literally; \argmax/\argmin are the usual operator macros.
    (re.compile(r"\\arg(?![A-Za-z])"), r"\\operatorname{arg}"),
    (re.compile(r"\\arg(max|min)(?![A-Za-z])"), r"\\operatornamewithlimits{arg\1}"),
    # \operatorname* is read as \operatorname followed by a literal "*".
    (re.compile(r"\\operatorname\*"), r"\\operatornamewithlimits"),
]
# Spacing inside an operator name splits it into italic letters; drop it.
_OPERATOR_NAME = re.compile(r"(\\operatorname(?:withlimits)?\{)([^{}]*)\}")
_NAME_SPACING = re.compile(r"\\[,;:! ]|~")
# Macro definitions expand without limit (\def\a{\a\a}); formulas here don't need them.
_MACRO_DEFINITION = re.compile(r"\\(?:re)?newcommand|\\def(?![A-Za-z])")
_TOKEN = re.compile(r"\\(?:[A-Za-z]+|.)|[{}]", re.DOTALL)
_OPENERS = {"{", r"\left", r"\begin"}
_CLOSERS = {"}", r"\right", r"\end"}
# latex2mathml writes character references as text ("&#x0003D;") and unescapes
# its whole output, which would also turn a "<" typed in \text{} into markup.
# Serialising its tree ourselves and restoring only those references avoids that.
_ESCAPED_REFERENCE = re.compile(r"&amp;(#x[0-9A-Fa-f]+;)")


def _check_bounds(source: str) -> None:
    if len(source) > MAX_LENGTH:
        raise MathError(f"formula longer than {MAX_LENGTH} characters")
    if _MACRO_DEFINITION.search(source):
        raise MathError("macro definitions are not supported")
    depth = 0
    for token in _TOKEN.findall(source):
        if token in _OPENERS:
            depth += 1
            if depth > MAX_DEPTH:
                raise MathError(f"nested deeper than {MAX_DEPTH} levels")
        elif token in _CLOSERS:
            depth -= 1
            if depth < 0:
                break
    if depth:
        # latex2mathml quietly renders "\frac{a" as a fraction without a denominator.
        raise MathError("unbalanced braces, \\left/\\right or \\begin/\\end")


def _rewrite(source: str) -> str:
    for pattern, replacement in _REWRITES:
        source = pattern.sub(replacement, source)
    return _OPERATOR_NAME.sub(lambda m: m[1] + _NAME_SPACING.sub("", m[2]) + "}", source)


def latex_to_mathml(source: str, *, display: bool = False) -> str:
    """One formula as a ``<math>`` element, its LaTeX kept as a TeX annotation.

    Raises MathError for a formula that is too long, too deep or not valid LaTeX.
    """
    source = source.strip()
    if not source:
        raise MathError("empty formula")
    _check_bounds(source)
    try:
        math = convert_to_element(_rewrite(source), display="block" if display else "inline")
    except RecursionError as error:
        raise MathError("formula nested too deeply") from error
    except Exception as error:  # latex2mathml raises many types, some not its own.
        raise MathError(f"invalid LaTeX ({type(error).__name__})") from error
    math.attrib.pop("xmlns", None)
    semantics = ET.Element("semantics")
    semantics.extend(list(math))
    math[:] = [semantics]
    annotation = ET.SubElement(semantics, "annotation", encoding=TEX_ENCODING)
    annotation.text = source
    return _ESCAPED_REFERENCE.sub(r"&\1", ET.tostring(math, encoding="unicode"))


def render_formula(source: str, *, display: bool = False) -> str:
    """HTML for one formula in running text: MathML, or its source as code with a note."""
    try:
        return latex_to_mathml(source, display=display)
    except MathError as error:
        return f'<span class="math-error"><code>{html.escape(source.strip())}</code>{_note(error)}</span>'


def render_display_block(source: str) -> str:
    """HTML for a display formula standing as its own block."""
    try:
        return f'<div class="math-display">{latex_to_mathml(source, display=True)}</div>'
    except MathError as error:
        code = html.escape(source.strip("\n"))
        return f'<div class="math-display math-error"><pre><code>{code}</code></pre>{_note(error)}</div>'


def _note(error: MathError) -> str:
    return f'<span class="math-error__note" title="{html.escape(str(error))}">{ERROR_NOTE}</span>'


# ---- Markdown -----------------------------------------------------------------------

# Python-Markdown's fences start at the margin; a fence closes on the same marker.
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[ ]*(?:\{\s*\.?)?(?P<lang>[\w#.+-]*)")


class _DisplayMathPreprocessor(Preprocessor):
    """``$$`` blocks and ``math`` fences become display math before fenced_code runs,
    leaving every other fence (and the dollars inside it) to fenced_code."""

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            fence = _FENCE.match(line)
            if fence:
                end = self._closing(lines, i, lambda s, f=fence["fence"]: s.rstrip() == f)
                if end is None:
                    out.append(line)
                    i += 1
                elif fence["lang"] == "math":
                    out += self._display("\n".join(lines[i + 1 : end]))
                    i = end + 1
                else:
                    out += lines[i : end + 1]
                    i = end + 1
                continue
            stripped = line.strip()
            if stripped.startswith("$$") and len(line) - len(line.lstrip(" ")) < 4:
                if len(stripped) > 4 and stripped.endswith("$$"):
                    out += self._display(stripped[2:-2])
                    i += 1
                    continue
                # TeX allows no blank line in a formula: a "$$" that starts prose
                # is not closed by one further down the document.
                end = self._closing(lines, i, lambda s: s.rstrip().endswith("$$"), stop_at_blank=True)
                if end is not None:
                    body = "\n".join([stripped[2:], *lines[i + 1 : end], lines[end].rstrip()[:-2]])
                    out += self._display(body)
                    i = end + 1
                    continue
            out.append(line)
            i += 1
        return out

    @staticmethod
    def _closing(lines, start, is_close, *, stop_at_blank=False):
        for j in range(start + 1, len(lines)):
            if is_close(lines[j]):
                return j
            if stop_at_blank and not lines[j].strip():
                return None
        return None

    def _display(self, source: str) -> list[str]:
        return ["", self.md.htmlStash.store(render_display_block(source)), ""]


# An opening "$" is followed by a non-space, a closing one follows a non-space and
# is not followed by a digit, so "$5 and $10" stays prose (Pandoc's rule).
INLINE_MATH = r"(?<![\\$])\$(?![\s$])((?:[^$\\]|\\.)+?)(?<!\s)\$(?![$\d])"
DISPLAY_MATH = r"(?<![\\$])\$\$(?!\$)((?:[^$\\]|\\.)+?)\$\$"


class _MathInlineProcessor(InlineProcessor):
    def __init__(self, pattern, md, *, display: bool):
        super().__init__(pattern, md)
        self.display = display

    def handleMatch(self, m, data):
        return self.md.htmlStash.store(render_formula(m[1], display=self.display)), m.start(0), m.end(0)


class MathExtension(Extension):
    """Math for Python-Markdown. Inline math runs after code spans (so `$x$` in
    backticks stays code) and before backslash escapes (which would eat ``\\{``)."""

    def extendMarkdown(self, md):
        md.ESCAPED_CHARS.append("$")
        # Python-Markdown counts <math> as a block and would unwrap a paragraph
        # that is one inline formula; in HTML it is phrasing content.
        md.block_level_elements.remove("math")
        md.preprocessors.register(_DisplayMathPreprocessor(md), "math_display", 27)
        md.inlinePatterns.register(_MathInlineProcessor(DISPLAY_MATH, md, display=True), "math_display", 186)
        md.inlinePatterns.register(_MathInlineProcessor(INLINE_MATH, md, display=False), "math_inline", 185)
