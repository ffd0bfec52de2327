"""An editor uploads a figure, writes a formula and the figure reference, previews, saves, and
readers see both on the question page, on a phone and a desktop, light and dark."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, check_accessibility, horizontal_overflow, screenshot
from tests.browser.test_admin import staff_page  # noqa: F401 - the logged-in admin page fixture

pytestmark = pytest.mark.browser

FIGURE = Path(__file__).resolve().parents[2] / "qa" / "demo" / "files" / "invert-demo-inverted.png"
ANSWER = """\
## 公式

灰度反色对每个像素做 $T(x, y) = 255 - S(x, y)$，整幅图的平均亮度也随之反过来：

$$
\\bar{T} = \\frac{1}{N} \\sum_{i=1}^{N} (255 - S_i) = 255 - \\bar{S}
$$

## 效果

![反色后的测试图：灰度背景上的深灰圆和浅灰矩形](figure:inverted)

## 小结

反色是最简单的点运算。
"""


def test_editor_adds_a_figure_and_a_formula_and_readers_see_both(staff_page, site_content, open_page):  # noqa: F811
    page = staff_page
    question = site_content["main"]
    page.goto(f"/admin/qa/question/{question.pk}/change/")
    page.locator("#figures-group .add-row a").click()
    page.locator("#id_figures-0-name").fill("inverted")
    page.locator("#id_figures-0-upload").set_input_files(str(FIGURE))
    page.locator("#id_figures-0-alt").fill("反色后的测试图：灰度背景上的深灰圆和浅灰矩形")
    page.locator("#id_figures-0-caption").fill("本站反色工具的输出")
    page.locator("textarea#id_answer").fill(ANSWER)
    preview = page.locator(".markdown-preview").nth(1)
    expect(preview.locator("math")).to_have_count(2)
    # Not saved yet: the preview says the figure is missing rather than breaking.
    expect(preview.locator(".figure-missing")).to_contain_text("反色后的测试图")

    page.get_by_role("button", name=re.compile("保存并继续编辑|Save and continue editing")).click()
    expect(page.locator(".messagelist")).to_be_visible()
    expect(page.locator("#figures-group .figure-snippet")).to_have_text(
        "![反色后的测试图：灰度背景上的深灰圆和浅灰矩形](figure:inverted)"
    )
    preview = page.locator(".markdown-preview").nth(1)
    expect(preview.locator("figure img")).to_have_attribute("alt", re.compile("反色后的测试图"))
    expect(preview.locator("figcaption")).to_have_text("本站反色工具的输出")
    screenshot(page, "figures-admin-1280-light")
    page.get_by_role("button", name=re.compile("^(保存|Save)$")).click()
    expect(page.locator(".messagelist")).to_be_visible()

    for viewport, width in ((PHONE, 360), (DESKTOP, 1280)):
        for theme in ("light", "dark"):
            reader = open_page(viewport=viewport, theme=theme)
            reader.goto(question.get_absolute_url())
            prose = reader.locator(".answer .prose")
            expect(prose.locator("math")).to_have_count(2)
            image = prose.locator("figure img")
            image.scroll_into_view_if_needed()
            expect(image).to_have_attribute("loading", "lazy")
            expect(prose.locator("figcaption")).to_have_text("本站反色工具的输出")
            reader.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
            )
            # A phone takes the narrow variant; the desktop the full image.
            chosen = image.evaluate("img => img.currentSrc")
            assert ("-480w-" in chosen) == (width == 360), chosen
            expect(reader.locator("nav.toc li")).to_have_count(3)
            assert horizontal_overflow(reader) == 0
            check_accessibility(reader)
            reader.evaluate("window.scrollTo(0, 0)")  # the sticky header back at the top
            screenshot(reader, f"figures-question-{width}-{theme}")
