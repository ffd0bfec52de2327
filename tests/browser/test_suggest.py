"""Suggestions under the header search box: a keyboard- and screen-reader-usable combobox."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, screenshot

pytestmark = pytest.mark.browser


def test_typing_shows_suggestions_and_arrow_keys_with_enter_open_one(page, site_content):
    page.goto("/")
    box = page.get_by_role("combobox", name="搜索")
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press_sequentially("灰度", delay=60)

    listbox = page.get_by_role("listbox")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.get_by_role("option")
    expect(options.first).to_contain_text("灰度")
    expect(page.locator("#site-search-status")).to_contain_text("使用方向键选择")
    check_accessibility(page)

    box.press("ArrowDown")
    first = options.first
    expect(first).to_have_attribute("aria-selected", "true")
    assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
    title = first.inner_text()
    screenshot(page, "suggest-1280-light")

    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")

    box.press("ArrowDown")
    expect(listbox).to_be_visible()
    box.press("Enter")
    expect(page.locator("h1")).to_have_text(title)


def test_pinyin_initials_suggest_chinese_titles(page, site_content):
    page.goto("/")
    box = page.get_by_role("combobox", name="搜索")
    box.press_sequentially("hdfs", delay=60)
    expect(page.get_by_role("option").first).to_contain_text("灰度反色")


def test_without_javascript_the_box_is_a_plain_search_form(open_page, site_content):
    page = open_page(javascript=False)
    page.goto("/")
    box = page.get_by_role("searchbox", name="搜索")
    box.fill("反色")
    box.press("Enter")
    expect(page.locator(".search-result").first).to_be_visible()
