"""Math in Markdown (SPEC §4, Math): LaTeX rendered once, at save time, to sanitised MathML."""

import re
import time
import xml.etree.ElementTree as ET
from io import StringIO

import nh3
import pytest
from django.core.management import call_command

from qa.markdown import excerpt, plain_text, render_markdown, sanitize_html
from qa.math import MAX_DEPTH, MAX_LENGTH, MathError, latex_to_mathml
from qa.models import Question
from tests.conftest import make_question
from tests.test_markdown import assert_harmless


def math_elements(html: str) -> list[ET.Element]:
    """The <math> elements of rendered HTML, parsed, for structural checks."""
    return [ET.fromstring(m) for m in re.findall(r"<math\b.*?</math>", html, re.DOTALL)]  # noqa: S314 - our own output


def tags_in(element: ET.Element) -> set[str]:
    return {e.tag for e in element.iter()}


# ---- Delimiters ----------------------------------------------------------------------


def test_inline_math_becomes_mathml_in_running_text():
    html = render_markdown(r"激活函数 $\sigma(x) = \frac{1}{1+e^{-x}}$ 把实数压到 (0, 1)。")
    assert html.startswith('<p>激活函数 <math display="inline">')
    assert html.endswith("</math> 把实数压到 (0, 1)。</p>")
    [math] = math_elements(html)
    assert {"mfrac", "msup", "semantics", "annotation"} <= tags_in(math)


def test_display_math_on_its_own_lines_is_a_block():
    html = render_markdown("前文\n\n$$\n\\sum_{i=1}^{n} x_i\n$$\n\n后文")
    assert '<div class="math-display"><math display="block">' in html
    assert "<munderover>" in html
    assert html.startswith("<p>前文</p>") and html.endswith("<p>后文</p>")


def test_display_math_with_delimiters_on_the_formula_lines():
    html = render_markdown("$$\\begin{aligned}\na &= b \\\\\nc &= d\n\\end{aligned}$$")
    assert '<math display="block">' in html and "<mtable" in html


def test_one_line_display_math_and_display_math_inside_a_paragraph():
    assert '<math display="block">' in render_markdown("$$ E = mc^2 $$")
    html = render_markdown("所以 $$E = mc^2$$ 成立")
    assert html.startswith('<p>所以 <math display="block">')


def test_fenced_math_block_is_display_math():
    html = render_markdown("```math\n\\mathrm{KL}(P \\| Q) = \\sum_x P(x) \\log \\frac{P(x)}{Q(x)}\n```")
    assert '<div class="math-display"><math display="block">' in html
    assert 'class="highlight"' not in html


def test_paragraph_that_is_one_formula_stays_a_paragraph():
    assert render_markdown("$x$").startswith('<p><math display="inline">')


def test_source_is_kept_as_a_tex_annotation():
    html = render_markdown(r"$a < b \land c > d$")
    assert '<annotation encoding="application/x-tex">a &lt; b \\land c &gt; d</annotation>' in html


@pytest.mark.parametrize(
    "source",
    [
        "价格 $5 and $10",
        "从 $5 到 $10 之间",
        "US$5 or US$10",
        "$ x $ 带空格的不是公式",
        "cost: $20.",
        r"转义 \$x\$ 不是公式",
    ],
)
def test_prose_dollars_stay_text(source):
    html = render_markdown(source)
    assert "<math" not in html
    assert "$" in html and "\\$" not in html


def test_dollars_in_code_stay_code():
    html = render_markdown(
        "行内 `$x$` 与\n\n```python\nprice = '$5'  # $$\n```\n\n```\n$$\nx\n$$\n```\n\n    $y$\n"
    )
    assert "<math" not in html
    assert "<code>$x$</code>" in html
    assert html.count("$$") == 3


def test_math_fence_inside_a_longer_fence_stays_code():
    html = render_markdown("````markdown\n```math\nx^2\n```\n````")
    assert "<math" not in html and "```math" in html


def test_markdown_does_not_touch_latex_inside_math():
    """Underscores, asterisks and backslash escapes mean LaTeX inside a formula, not emphasis."""
    [math] = math_elements(render_markdown(r"$a_i * b_i * \{x\} \\ y$ and $c_1_$"))
    assert math.find(".//annotation").text == r"a_i * b_i * \{x\} \\ y"
    assert "<em>" not in render_markdown(r"$a_1 + b_1$ 和 $c_1$")


def test_unclosed_display_math_stays_text():
    html = render_markdown("$$\nx\n\n后文没有结束符")
    assert "<math" not in html and "$$" in html


def test_display_math_does_not_reach_across_a_blank_line():
    html = render_markdown("$$ 是两个美元符号\n\n中间的段落\n\n最后一行以 $$")
    assert "<math" not in html and "中间的段落" in html


# ---- Invalid formulas, bombs ---------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [r"\frac{a}{", r"\frac{a", r"x}", r"\begin{align*}x\end{cases}", r"\left( x", r"\newcommand{\a}{\a}\a"],
)
def test_invalid_latex_shows_its_source_as_code_with_a_note(source):
    html = render_markdown(f"公式 ${source}$ 后文")
    assert "<math" not in html
    assert '<span class="math-error"><code>' in html
    assert "公式无法显示" in html
    assert "后文" in html


def test_invalid_display_math_shows_a_code_block_with_a_note():
    html = render_markdown("$$\n\\frac{a}{\n$$")
    assert '<div class="math-display math-error"><pre><code>\\frac{a}{</code></pre>' in html
    assert '<span class="math-error__note" title="' in html and "公式无法显示" in html


@pytest.mark.parametrize(
    "bomb",
    [
        "{" * 5000 + "x" + "}" * 5000,
        "x^{" * 600 + "x" + "}" * 600,
        r"\frac{" * 400 + "x" + "}{y}" * 400,
        r"\sqrt" * 800 + "x",
        r"\left(" * 500 + "x" + r"\right)" * 500,
        r"\begin{matrix}" * 400 + "x" + r"\end{matrix}" * 400,
        "a+b+" * 2500 + "c",
        r"\newcommand{\a}{xx}\newcommand{\b}{\a\a\a\a}\newcommand{\c}{\b\b\b\b}\c\c\c\c",
    ],
    ids=[
        "braces",
        "superscripts",
        "fractions",
        "unbraced-roots",
        "left-right",
        "environments",
        "10k-flat",
        "macros",
    ],
)
def test_formula_bombs_are_refused_quickly_and_never_raise(bomb):
    start = time.perf_counter()
    html = render_markdown(f"${bomb}$\n\n$$\n{bomb}\n$$\n")
    assert time.perf_counter() - start < 2
    assert html.count("公式无法显示") == 2


def test_limits_are_what_the_bombs_rely_on():
    latex_to_mathml("{" * MAX_DEPTH + "x" + "}" * MAX_DEPTH)
    with pytest.raises(MathError, match="nested deeper"):
        latex_to_mathml("{" * (MAX_DEPTH + 1) + "x" + "}" * (MAX_DEPTH + 1))
    with pytest.raises(MathError, match="longer than"):
        latex_to_mathml("x" * (MAX_LENGTH + 1))


# ---- latex2mathml gaps that qa.math works around --------------------------------------


def test_aligned_is_rendered_as_a_table():
    [math] = math_elements(
        render_markdown("$$\n\\left\\{\\begin{aligned} a &= 1 \\\\ b &= 2 \\end{aligned}\\right.\n$$")
    )
    assert len(math.findall(".//mtr")) == 2
    assert all(mi.text != "&" for mi in math.iter("mi"))


def test_alignedat_and_gathered_are_rendered_as_tables():
    for env, head in (("alignedat", "{2}"), ("gathered", ""), ("gather*", "")):
        [math] = math_elements(render_markdown(f"$$\n\\begin{{{env}}}{head} a \\\\ b \\end{{{env}}}\n$$"))
        assert len(math.findall(".//mtr")) == 2, env


def test_arg_and_argmax_are_operator_names():
    [math] = math_elements(
        render_markdown(r"$\arg\max_\theta p(x) = \argmax_\theta p(x) + \operatorname*{arg\,min}_x f$")
    )
    operators = [mo.text for mo in math.iter("mo")]
    assert "arg" in operators and "argmax" in operators and "argmin" in operators
    assert not any((mi.text or "").startswith("\\") for mi in math.iter("mi"))


def test_a_less_than_sign_in_text_is_text_not_markup():
    """latex2mathml unescapes its whole output; qa.math keeps \\text{<b>} as text."""
    html = render_markdown(r"$\text{<b>粗</b> <img src=x onerror=alert(1)>}$")
    assert "<b>" not in html and "<img" not in html
    assert "&lt;b&gt;粗" in html
    assert_harmless(html)


# ---- Sanitising ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        r"$\href{javascript:alert(1)}{x}$",
        r"$\style{color:red}{x}$",
        r"$\color{red}{x}\colorbox{red}{y}$",
        r"$\text{</math><script>alert(1)</script>}$",
        r"$\text{<a href=javascript:alert(1)>x</a>}$",
    ],
)
def test_nothing_in_a_formula_makes_a_link_style_or_script(source):
    html = render_markdown(source)
    assert not re.search(r"<[^>]*\s(href|style|mathcolor|mathbackground)=", html), html
    assert "<script" not in html and "<a " not in html
    # The TeX annotation is text (escaped), though it may spell out "href=".
    assert_harmless(re.sub(r"<annotation\b.*?</annotation>", "", html))


# mXSS through namespace confusion between HTML and MathML/SVG once <math> is
# allowed: RUSTSEC-2021-0074 (ammonia < 3.1.2), RUSTSEC-2025-0071 (< 4.1.2) and
# RUSTSEC-2026-0193 (annotation-xml, < 4.1.3). nh3 0.3.7 bundles ammonia 4.1.4.
MXSS_PAYLOADS = [
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    "<math><mtext><table><mglyph><style><!--</style><img "
    'title="--&gt;&lt;/mglyph&gt;&lt;img&Tab;src=1&Tab;onerror=alert(1)&gt;">',
    '<form><math><mtext></form><form><mglyph><svg><mtext><style><path id="</style><img '
    'onerror=alert(1) src>">',
    '<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style><a title="</style><img src '
    'onerror=alert(1)>"></style></h1>',
    '<math><annotation-xml encoding="text/html"><style><img src=x '
    "onerror=alert(1)></style></annotation-xml></math>",
    "<math><semantics><mi>x</mi><annotation-xml><svg><style><img src=x "
    "onerror=alert(1)></style></svg></annotation-xml></semantics></math>",
    "<math><mi><svg><style><img src=x onerror=alert(1)></style></svg></mi></math>",
    '<math><maction actiontype="statusline" '
    'xlink:href="javascript:alert(1)"><mtext>x</mtext></maction></math>',
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
]


@pytest.mark.parametrize("payload", MXSS_PAYLOADS)
def test_mathml_mutation_xss_is_sanitised(payload):
    for html in (sanitize_html(payload), render_markdown(payload)):
        assert_harmless(html)
        assert not re.search(r"annotation-xml|mglyph|maction|<style|<svg", html), html
        # Parsed again, as the browser will, the output is still harmless.
        assert_harmless(sanitize_html(html))


def test_nh3_bundles_an_ammonia_with_the_mathml_fixes():
    """nh3 exposes only its own version; 0.3.7 is the first checked to bundle ammonia >= 4.1.3."""
    assert tuple(int(part) for part in nh3.__version__.split(".")[:3]) >= (0, 3, 7)


# ---- Excerpts, plain text, API, feed, stored HTML ---------------------------------------


def test_excerpt_reads_inline_formulas_as_latex_and_leaves_out_display_math():
    html = render_markdown(
        "Softmax $\\sigma(z)_i$ 归一化：\n\n$$\n\\sum_i \\sigma(z)_i = 1\n$$\n\n所以和为 1。"
    )
    assert excerpt(html) == "Softmax $\\sigma(z)_i$ 归一化： 所以和为 1。"
    assert "$\\sum_i \\sigma(z)_i = 1$" in plain_text(html)


def test_excerpt_of_an_answer_that_is_only_display_math_falls_back_to_its_source():
    assert excerpt(render_markdown("$$\nx^2\n$$")) == "$x^2$"


def test_excerpt_with_a_broken_formula_shows_its_source():
    assert excerpt(render_markdown(r"坏公式 $\frac{a$ 后文")) == r"坏公式 \frac{a公式无法显示 后文"


@pytest.mark.django_db
def test_formulas_are_stored_at_save_and_served_by_the_api_and_the_feed(client):
    question = make_question(title="Softmax 公式", answer=r"定义 $\frac{e^{z_i}}{\sum_j e^{z_j}}$ 即可。")
    assert "<mfrac>" in question.answer_html
    assert question.excerpt == r"定义 $\frac{e^{z_i}}{\sum_j e^{z_j}}$ 即可。"
    data = client.get(f"/api/questions/{question.pk}/").json()
    assert data["answer_html"] == question.answer_html
    page = client.get(question.get_absolute_url()).content.decode()
    assert "<mfrac>" in page and "<script" not in page.split("<main", 1)[1].split("</main>", 1)[0]
    feed = client.get("/feed/").content.decode()
    assert r"\frac{e^{z_i}}{\sum_j e^{z_j}}" in feed


@pytest.mark.django_db
def test_rerender_markdown_upgrades_answers_stored_before_math():
    question = make_question(answer="损失 $L = -\\sum_i y_i \\log \\hat{y}_i$ 最小化")
    Question.objects.filter(pk=question.pk).update(
        answer_html="<p>损失 $L = -\\sum_i y_i \\log \\hat{y}_i$ 最小化</p>", excerpt="旧摘要"
    )
    out = StringIO()
    call_command("rerender_markdown", stdout=out)
    assert "(1 re-rendered)" in out.getvalue()
    question.refresh_from_db()
    assert (
        '<math display="inline">' in question.answer_html and '<mover accent="true">' in question.answer_html
    )
    assert question.excerpt.startswith("损失 $L = -\\sum_i")


# ---- Golden set: formulas from real ML answers ------------------------------------------

GOLDEN = {
    # A sum inside a fraction is in text style, so its limits go beside it.
    "softmax": (
        r"\mathrm{softmax}(z)_i = \frac{e^{z_i}}{\sum_{j=1}^{K} e^{z_j}}",
        {"mfrac", "msup", "msubsup"},
    ),
    "log-softmax": (r"\log \mathrm{softmax}(z)_i = z_i - \log \sum_j e^{z_j}", {"munder", "msup"}),
    "cross-entropy": (r"H(p, q) = -\sum_{x} p(x) \log q(x)", {"munder"}),
    "cross-entropy-loss": (
        r"\mathcal{L}_{\text{CE}} = -\sum_{i=1}^{N} \sum_{c=1}^{C} y_{i,c} \log \hat{y}_{i,c}",
        {"munderover", "mover", "mtext"},
    ),
    "bce": (
        r"\mathcal{L}_{\text{BCE}} = -\frac{1}{N}\sum_{i=1}^{N}\left[y_i \log \hat{y}_i + "
        r"(1-y_i)\log(1-\hat{y}_i)\right]",
        {"mfrac", "munderover", "mover"},
    ),
    "mse": (r"\mathrm{MSE} = \frac{1}{n}\sum_{i=1}^{n}(y_i - \hat{y}_i)^2", {"mfrac", "munderover", "msup"}),
    "mae": (
        r"\mathrm{MAE} = \frac{1}{n}\sum_{i=1}^{n}\lvert y_i - \hat{y}_i \rvert",
        {"mfrac", "munderover"},
    ),
    "kl": (r"D_{\mathrm{KL}}(P \parallel Q) = \sum_{x} P(x) \log \frac{P(x)}{Q(x)}", {"mfrac", "munder"}),
    "kl-gaussians": (
        r"D_{\mathrm{KL}} = \log\frac{\sigma_2}{\sigma_1} + \frac{\sigma_1^2 + "
        r"(\mu_1-\mu_2)^2}{2\sigma_2^2} - \frac{1}{2}",
        {"mfrac", "msubsup"},
    ),
    "entropy": (r"H(X) = -\sum_{i} p(x_i) \log_2 p(x_i)", {"munder", "msub"}),
    "attention": (
        r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d_k}}\right)V",
        {"mfrac", "msqrt", "msup"},
    ),
    "multi-head": (
        r"\mathrm{MultiHead}(Q,K,V) = \mathrm{Concat}(\mathrm{head}_1,\dots,\mathrm{head}_h)W^O",
        {"msub", "msup"},
    ),
    "positional-encoding": (
        r"PE_{(pos, 2i)} = \sin\left(\frac{pos}{10000^{2i/d_{\text{model}}}}\right)",
        {"mfrac", "msup", "msub"},
    ),
    "layer-norm": (
        r"\mathrm{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta",
        {"mfrac", "msqrt", "msup"},
    ),
    "batch-norm": (
        r"\hat{x}_i = \frac{x_i - \mu_\mathcal{B}}{\sqrt{\sigma_\mathcal{B}^2 + \epsilon}}",
        {"mfrac", "msqrt", "msubsup", "mover"},
    ),
    "layer-norm-stats": (
        r"\mu = \frac{1}{H}\sum_{i=1}^{H} a_i,\quad \sigma = \sqrt{\frac{1}{H}\sum_{i=1}^{H}(a_i-\mu)^2}",
        {"mfrac", "msqrt", "munderover", "mspace"},
    ),
    "adam-m": (r"m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t", {"msub"}),
    "adam-v": (r"v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2", {"msubsup"}),
    "adam-bias": (
        r"\hat{m}_t = \frac{m_t}{1 - \beta_1^t}, \quad \hat{v}_t = \frac{v_t}{1 - \beta_2^t}",
        {"mfrac", "msubsup", "mover"},
    ),
    "adam-update": (
        r"\theta_t = \theta_{t-1} - \frac{\alpha \hat{m}_t}{\sqrt{\hat{v}_t} + \epsilon}",
        {"mfrac", "msqrt", "mover"},
    ),
    "sgd-momentum": (
        r"v_{t+1} = \mu v_t - \eta \nabla_\theta \mathcal{L}(\theta_t), \quad \theta_{t+1} = \theta_t + "
        r"v_{t+1}",
        {"msub"},
    ),
    "gradient-descent": (r"\theta \leftarrow \theta - \eta \nabla_\theta J(\theta)", {"msub"}),
    "convolution": (
        r"(f * g)(t) = \int_{-\infty}^{\infty} f(\tau) g(t - \tau)\, d\tau",
        {"msubsup", "mspace"},
    ),
    "discrete-conv": (r"S(i, j) = \sum_{m}\sum_{n} I(i+m, j+n) K(m, n)", {"munder"}),
    "conv-output": (r"O = \left\lfloor \frac{W - K + 2P}{S} \right\rfloor + 1", {"mfrac"}),
    "sigmoid": (r"\sigma(x) = \frac{1}{1 + e^{-x}}", {"mfrac", "msup"}),
    "sigmoid-derivative": (r"\sigma'(x) = \sigma(x)\bigl(1 - \sigma(x)\bigr)", {"msup"}),
    "tanh": (r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}", {"mfrac", "msup"}),
    "relu": (r"\mathrm{ReLU}(x) = \max(0, x)", {"mo"}),
    "relu-cases": (
        r"f(x) = \begin{cases} x & x > 0 \\ 0 & \text{otherwise} \end{cases}",
        {"mtable", "mtr", "mtd", "mtext"},
    ),
    "leaky-relu": (r"f(x) = \begin{cases} x, & x \ge 0 \\ \alpha x, & x < 0 \end{cases}", {"mtable"}),
    "gelu": (
        r"\mathrm{GELU}(x) = x \Phi(x) = \frac{x}{2}\left[1 + "
        r"\mathrm{erf}\left(\frac{x}{\sqrt{2}}\right)\right]",
        {"mfrac", "msqrt"},
    ),
    "bayes": (r"P(A \mid B) = \frac{P(B \mid A)\, P(A)}{P(B)}", {"mfrac"}),
    "posterior": (r"p(\theta \mid \mathcal{D}) \propto p(\mathcal{D} \mid \theta)\, p(\theta)", {"mo"}),
    "gaussian": (
        r"\mathcal{N}(x \mid \mu, \sigma^2) = \frac{1}{\sqrt{2\pi\sigma^2}} "
        r"\exp\left(-\frac{(x-\mu)^2}{2\sigma^2}\right)",
        {"mfrac", "msqrt", "msup"},
    ),
    "multivariate-gaussian": (
        r"p(\mathbf{x}) = \frac{1}{(2\pi)^{d/2} |\Sigma|^{1/2}} "
        r"\exp\left(-\frac{1}{2}(\mathbf{x}-\boldsymbol{\mu})^\top \Sigma^{-1} "
        r"(\mathbf{x}-\boldsymbol{\mu})\right)",
        {"mfrac", "msup"},
    ),
    "pca": (
        r"\mathbf{w}_1 = \arg\max_{\lVert \mathbf{w} \rVert = 1} \mathbf{w}^\top \Sigma \mathbf{w}",
        {"msub", "msup"},
    ),
    "pca-covariance": (
        r"\Sigma = \frac{1}{n-1} \sum_{i=1}^{n} (\mathbf{x}_i - \bar{\mathbf{x}})(\mathbf{x}_i - "
        r"\bar{\mathbf{x}})^\top",
        {"mfrac", "munderover", "mover"},
    ),
    "svm-hinge": (
        r"\mathcal{L} = \frac{1}{2}\lVert \mathbf{w} \rVert^2 + C \sum_{i=1}^{n} \max\bigl(0, 1 - "
        r"y_i(\mathbf{w}^\top \mathbf{x}_i + b)\bigr)",
        {"mfrac", "munderover", "msup"},
    ),
    "svm-margin": (
        r"\min_{\mathbf{w}, b} \frac{1}{2}\|\mathbf{w}\|^2 \quad \text{s.t.}\quad "
        r"y_i(\mathbf{w}^\top\mathbf{x}_i + b) \ge 1",
        {"mfrac", "msup", "mtext"},
    ),
    "l2-regularisation": (
        r"J(\theta) = \frac{1}{m}\sum_{i=1}^{m} \ell(h_\theta(x^{(i)}), y^{(i)}) + "
        r"\frac{\lambda}{2}\|\theta\|_2^2",
        {"mfrac", "munderover", "msubsup"},
    ),
    "logistic-regression": (r"h_\theta(x) = \frac{1}{1 + e^{-\theta^\top x}}", {"mfrac", "msup"}),
    "linear-regression-normal": (
        r"\hat{\boldsymbol{\beta}} = (X^\top X)^{-1} X^\top \mathbf{y}",
        {"msup", "mover"},
    ),
    "mle": (
        r"\hat{\theta}_{\mathrm{MLE}} = \argmax_\theta \prod_{i=1}^{n} p(x_i \mid \theta)",
        {"munderover", "mover"},
    ),
    "elbo": (
        r"\log p(x) \ge \mathbb{E}_{q(z)}\left[\log p(x \mid z)\right] - D_{\mathrm{KL}}\bigl(q(z) "
        r"\parallel p(z)\bigr)",
        {"msub"},
    ),
    "vae-reparam": (r"z = \mu + \sigma \odot \epsilon, \quad \epsilon \sim \mathcal{N}(0, I)", {"mspace"}),
    "gan": (
        r"\min_G \max_D \; \mathbb{E}_{x \sim p_{\text{data}}}[\log D(x)] + \mathbb{E}_{z \sim "
        r"p_z}[\log(1 - D(G(z)))]",
        {"msub", "mtext"},
    ),
    "q-learning": (
        r"Q(s,a) \leftarrow Q(s,a) + \alpha\left[r + \gamma \max_{a'} Q(s',a') - Q(s,a)\right]",
        {"msub", "msup"},
    ),
    "bellman": (
        r"V^\pi(s) = \sum_a \pi(a \mid s) \sum_{s', r} p(s', r \mid s, a)\left[r + \gamma V^\pi(s')\right]",
        {"munder", "msup"},
    ),
    "precision-recall-f1": (
        r"F_1 = 2 \cdot \frac{\mathrm{precision} \cdot \mathrm{recall}}{\mathrm{precision} + "
        r"\mathrm{recall}}",
        {"mfrac", "msub"},
    ),
    "cosine-similarity": (
        r"\cos(\mathbf{a}, \mathbf{b}) = \frac{\mathbf{a} \cdot \mathbf{b}}{\|\mathbf{a}\|\,\|\mathbf{b}\|}",
        {"mfrac"},
    ),
    "chain-rule": (
        r"\frac{\partial \mathcal{L}}{\partial w_{ij}} = \frac{\partial \mathcal{L}}{\partial a_j} "
        r"\frac{\partial a_j}{\partial z_j} \frac{\partial z_j}{\partial w_{ij}}",
        {"mfrac", "msub"},
    ),
    "backprop-delta": (
        r"\delta^{(l)} = \left((W^{(l+1)})^\top \delta^{(l+1)}\right) \odot \sigma'(z^{(l)})",
        {"msup"},
    ),
    "lstm-gates": (
        r"\begin{align*} f_t &= \sigma(W_f [h_{t-1}, x_t] + b_f) \\ i_t &= \sigma(W_i [h_{t-1}, x_t] + "
        r"b_i) \\ c_t &= f_t \odot c_{t-1} + i_t \odot \tanh(W_c [h_{t-1}, x_t] + b_c) \end{align*}",
        {"mtable", "mtr", "mtd", "msub"},
    ),
    "gru-aligned": (
        r"\begin{aligned} z_t &= \sigma(W_z x_t + U_z h_{t-1}) \\ h_t &= (1 - z_t) \odot h_{t-1} + z_t "
        r"\odot \tilde{h}_t \end{aligned}",
        {"mtable", "mtr", "mover"},
    ),
    "confusion-matrix": (r"\begin{pmatrix} TP & FP \\ FN & TN \end{pmatrix}", {"mtable", "mtr", "mtd"}),
    "jacobian": (
        r"J = \begin{bmatrix} \frac{\partial f_1}{\partial x_1} & \cdots & \frac{\partial f_1}{\partial "
        r"x_n} \\ \vdots & \ddots & \vdots \\ \frac{\partial f_m}{\partial x_1} & \cdots & \frac{\partial "
        r"f_m}{\partial x_n} \end{bmatrix}",
        {"mtable", "mfrac"},
    ),
    "binomial": (r"P(k) = \binom{n}{k} p^k (1-p)^{n-k}", {"mfrac", "msup"}),
    "perplexity": (
        r"\mathrm{PPL} = \exp\left(-\frac{1}{N}\sum_{i=1}^{N} \log p(w_i \mid w_{<i})\right)",
        {"mfrac", "msubsup"},
    ),
}


INLINE_LIMITS = {"munderover": "msubsup", "munder": "msub"}


def test_golden_set_is_about_fifty_formulas():
    assert len(GOLDEN) >= 50


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_formula_renders_and_survives_sanitising(name):
    source, key_elements = GOLDEN[name]
    for markdown_source, display in ((f"${source}$", "inline"), (f"$$\n{source}\n$$", "block")):
        html = render_markdown(markdown_source)
        assert "公式无法显示" not in html, html
        [math] = math_elements(html)
        assert math.get("display") == display
        # Inline, limits go beside a sum or max, as in LaTeX's text style.
        expected = (
            {INLINE_LIMITS.get(tag, tag) for tag in key_elements} if display == "inline" else key_elements
        )
        assert expected <= tags_in(math), (expected - tags_in(math), html)
        assert math.find("semantics/annotation").text == source
        # No LaTeX command printed literally: latex2mathml prints unknown ones as text.
        shown = "".join(t for e in math.iter() if e.tag != "annotation" for t in [e.text or ""])
        assert "\\" not in shown, (name, shown)
        assert_harmless(html)
        assert sanitize_html(html) == html


def test_the_math_font_is_served_from_static_with_its_licence():
    """Formulas look right without the network: the @font-face points at a shipped WOFF2."""
    from pathlib import Path

    from django.conf import settings

    static = Path(settings.BASE_DIR) / "static"
    css = (static / "css/site.css").read_text()
    [font_url] = re.findall(r'url\("\.\./fonts/([^"]+\.woff2)"\)', css)
    assert re.search(r'math \{ font-family: "STIX Math"', css)
    assert (static / "fonts" / font_url).read_bytes()[:4] == b"wOF2"
    assert "SIL OPEN FONT LICENSE Version 1.1" in (static / "fonts/STIXMath-OFL.txt").read_text()
