"""Browser tests: Playwright drives Debian's Chromium against Django's live server.

Every page a test opens is watched: a console error, an uncaught exception or a
Content-Security-Policy violation fails the test at teardown. Screenshots go to
test-artifacts/screenshots/ (not committed). Run with ``make test-browser`` or
``bash .ci/browser.sh``; ``make test`` leaves these out.
"""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread, which makes Django
# refuse ORM calls from the test body; they are ordinary blocking calls here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# The live server listens on the loopback interface only, on a free port.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

CHROMIUM = os.environ.get("ZHIKU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_DIR = Path(__file__).resolve().parent
AXE_JS = BROWSER_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = BROWSER_DIR.parent.parent / "test-artifacts" / "screenshots"

PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}

# Reports CSP violations to the test through a Playwright binding; init scripts
# and bindings are outside the page's CSP, so the policy stays strict.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__zhikuCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || document.location.href}:${event.lineNumber}`);
});
"""


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (see .ci/browser.sh)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def axe_source():
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci` in tests/browser (see .ci/browser.sh)")
    return AXE_JS.read_text(encoding="utf-8")


class PageProblems:
    """Console errors, page exceptions and CSP violations seen while a test ran."""

    def __init__(self):
        self.items: list[str] = []
        self.allowed: list[re.Pattern] = []

    def add(self, kind: str, text: str, url: str = "") -> None:
        message = f"{kind}: {text}" + (f" ({url})" if url else "")
        if not any(pattern.search(message) for pattern in self.allowed):
            self.items.append(message)

    def allow(self, pattern: str) -> None:
        """Expect a message matching ``pattern`` (e.g. the 404 of a page visited on purpose)."""
        self.allowed.append(re.compile(pattern))
        self.items = [item for item in self.items if not re.search(pattern, item)]


@pytest.fixture
def page_problems():
    return PageProblems()


@pytest.fixture
def open_page(browser, live_server, axe_source, page_problems, settings, tmp_path):
    """``open_page(width=..., theme=..., language=...)`` gives a fresh Playwright page
    in its own browser context (own cookies and storage) on the live server."""
    settings.MEDIA_ROOT = tmp_path / "media"
    contexts = []

    def factory(*, viewport=DESKTOP, theme="light", language="zh-CN", javascript=True):
        context = browser.new_context(
            java_script_enabled=javascript,
            base_url=live_server.url,
            viewport=viewport,
            color_scheme=theme,
            locale=language,
            extra_http_headers={"Accept-Language": language},
            accept_downloads=True,
        )
        contexts.append(context)
        context.expose_function("__zhikuCspViolation", lambda text: page_problems.add("csp", text))
        context.add_init_script(script=_CSP_LISTENER)
        # axe-core is added as an init script: a <script> tag with its text
        # would itself be blocked by the CSP this suite is proving.
        context.add_init_script(script=axe_source)
        context.set_default_timeout(10_000)
        page = context.new_page()

        def on_console(message):
            if message.type == "error":
                page_problems.add("console", message.text, message.location.get("url", ""))

        page.on("console", on_console)
        page.on("pageerror", lambda error: page_problems.add("exception", str(error)))
        return page

    yield factory
    for context in contexts:
        context.close()
    assert not page_problems.items, "problems in the browser:\n" + "\n".join(page_problems.items)


@pytest.fixture
def page(open_page):
    """A desktop-width page in the light theme, in Chinese."""
    return open_page()


def check_accessibility(page, *, context=None) -> None:
    """Run axe-core (WCAG 2.1 A and AA rules) on the page; fail with a readable list."""
    result = page.evaluate(
        """async (context) => {
            const options = {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
                             resultTypes: ["violations"]};
            const r = await axe.run(context || document, options);
            return r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " — " + n.failureSummary),
            }));
        }""",
        context,
    )
    if result:
        lines = []
        for violation in result:
            lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']} ({page.url})")
            lines.extend(f"    {node}" for node in violation["nodes"])
        pytest.fail("accessibility violations:\n" + "\n".join(lines))


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG under test-artifacts/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


ANSWER_WITH_CODE = """\
先把图片转成 8 位灰度，再对每个像素做 `255 - x` 运算[^pillow]。

```python
from PIL import Image, ImageOps

gray = Image.open("cat.png").convert("L")
ImageOps.invert(gray).save("cat-inverted.png")
```

| 模式 | 公式 |
|:--|:--|
| gray | T = 255 − S |
| color | 每个通道分别取反 |

[^pillow]: Pillow 文档中的 ImageOps.invert。
"""


@pytest.fixture
def site_content(transactional_db):
    """A small site: two tags, three questions (one with code, a table and a
    footnote; a curated related question) and, when present, a resource."""
    from tests.conftest import make_question

    related = make_question(
        title="什么是图像反色运算",
        answer="反色就是用最大灰度值减去每个像素的值，亮的变暗，暗的变亮。",
        tags=["图像处理"],
    )
    main = make_question(
        title="如何用 Python 对图片做灰度反色",
        body="手上有一批扫描件，想批量做**灰度反色**，有什么简单的办法？",
        answer=ANSWER_WITH_CODE,
        tags=["python", "图像处理"],
        related=[related],
        views=28,
    )
    other = make_question(
        title="Java 中如何逐行读取文本文件",
        answer="用 `Files.lines(path)` 或 `BufferedReader.readLine()`。",
        tags=["java"],
    )
    from django.core.files.base import ContentFile

    from resources.models import Recommendation, Resource

    resource = Resource.objects.create(
        title="图像处理入门讲义",
        description="一份讲解**灰度**、**反色**和直方图的入门讲义。",
        file=ContentFile(b"%PDF-1.4\n% zhiku browser test\n%%EOF\n", name="图像处理入门.pdf"),
    )
    Recommendation.objects.create(question=main, resource=resource)
    return {"main": main, "related": related, "other": other, "resource": resource}
