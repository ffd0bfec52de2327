"""Searching in Chinese from the header, with the matches highlighted."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, check_accessibility, horizontal_overflow, screenshot

pytestmark = pytest.mark.browser


def test_search_in_chinese_highlights_matches(page, site_content):
    page.goto("/")
    box = page.get_by_role("combobox", name="搜索")
    box.fill("反色")
    box.press("Enter")

    expect(page.locator("h1")).to_contain_text("反色")
    results = page.locator(".search-result")
    expect(results.first).to_be_visible()
    titles = results.locator(".card__title").all_inner_texts()
    assert any("灰度反色" in title for title in titles)
    assert all("Java" not in title for title in titles)
    marks = page.locator(".search-result mark")
    expect(marks.first).to_be_visible()
    assert "反色" in marks.all_inner_texts()
    check_accessibility(page)
    screenshot(page, "search-1280-light")

    results.locator(".card__title a", has_text="如何用 Python").click()
    expect(page.locator("h1")).to_have_text("如何用 Python 对图片做灰度反色")


def test_search_with_words_not_adjacent_on_a_phone(open_page, site_content):
    page = open_page(viewport=PHONE, theme="dark")
    page.goto("/search/?q=Python灰度反色")
    first = page.locator(".search-result").first
    expect(first.locator(".card__title")).to_contain_text("如何用 Python 对图片做灰度反色")
    expect(first.locator("mark").first).to_be_visible()
    assert horizontal_overflow(page) <= 0
    check_accessibility(page)
    screenshot(page, "search-360-dark")


def test_search_with_no_match_says_so(page, site_content):
    page.goto("/search/?q=量子纠缠")
    expect(page.locator(".content")).to_contain_text("没有找到匹配的内容")
    expect(page.locator(".search-result")).to_have_count(0)
