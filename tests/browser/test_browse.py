"""Reading the site: home → question → related question, code blocks, references."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, screenshot

pytestmark = pytest.mark.browser


def test_home_to_question_to_related_question(page, site_content):
    page.goto("/")
    expect(page.locator("h1")).to_be_visible()
    check_accessibility(page)

    page.get_by_role("link", name="如何用 Python 对图片做灰度反色").first.click()
    expect(page.locator("h1")).to_have_text("如何用 Python 对图片做灰度反色")
    expect(page.locator(".question__body")).to_contain_text("灰度反色")
    expect(page.locator(".answer .prose")).to_contain_text("255 - x")
    check_accessibility(page)

    related = page.locator("section[aria-labelledby=related-heading]")
    expect(related).to_contain_text("反色就是用最大灰度值减去每个像素的值")
    related.get_by_role("link", name="什么是图像反色运算").click()
    expect(page).to_have_url(re.compile(rf"/questions/{site_content['related'].pk}/"))
    expect(page.locator("h1")).to_have_text("什么是图像反色运算")


def test_code_block_has_language_label_and_copy_button(open_page, site_content):
    page = open_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(site_content["main"].get_absolute_url())
    block = page.locator(".prose .highlight").first
    expect(block.locator(".filename")).to_have_text("python")
    # Code is shown as text, highlighted by CSS classes.
    expect(block.locator("pre")).to_contain_text('convert("L")')

    copy = block.get_by_role("button", name=re.compile("复制"))
    copy.click()
    expect(copy).to_have_text("已复制")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("from PIL import Image, ImageOps")
    assert 'ImageOps.invert(gray).save("cat-inverted.png")' in copied


def test_footnotes_form_a_references_block(page, site_content):
    page.goto(site_content["main"].get_absolute_url())
    references = page.locator(".prose .footnote")
    expect(references).to_contain_text("Pillow 文档中的 ImageOps.invert")
    title = references.evaluate("el => getComputedStyle(el, '::before').content")
    assert title == '"参考资料"'
    # The reference mark in the text jumps to its entry.
    page.locator(".prose sup a").first.click()
    expect(page).to_have_url(re.compile(r"#fn"))


def test_keyboard_user_can_skip_to_content_and_sees_focus(page, site_content):
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到正文")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))

    # Every control reached by Tab shows a visible focus outline.
    for _ in range(8):
        page.keyboard.press("Tab")
        style = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth]; }"
        )
        assert style[1] != "none" and style[2] != "0px", style
    screenshot(page, "focus-desktop-light")
