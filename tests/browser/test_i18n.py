"""The interface speaks Simplified Chinese by default and English on request."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility

pytestmark = pytest.mark.browser


def test_chinese_is_the_default(open_page, site_content):
    page = open_page(language="fr-FR")
    page.goto("/")
    assert page.evaluate("document.documentElement.lang") == "zh-hans"
    expect(page.get_by_role("navigation", name="主导航").get_by_role("link", name="问题")).to_be_visible()
    expect(page.get_by_role("button", name="搜索")).to_be_visible()


def test_accept_language_english_gives_english(open_page, site_content):
    page = open_page(language="en-US")
    page.goto(site_content["main"].get_absolute_url())
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.locator("#related-heading")).to_have_text("Related questions")
    references = page.locator(".prose .footnote").evaluate("el => getComputedStyle(el, '::before').content")
    assert references == '"References"'
    check_accessibility(page)


def test_language_switch_changes_and_keeps_the_page(open_page, site_content):
    page = open_page()
    url = site_content["main"].get_absolute_url()
    page.goto(url)
    page.get_by_role("navigation", name="语言").get_by_role("link", name="English").click()
    expect(page.locator("#answer-heading")).to_have_text("Answer")
    assert page.url.endswith(url.replace("如何用-python-对图片做灰度反色", "")) or "/questions/" in page.url
    # The choice sticks for the following pages.
    page.goto("/")
    expect(page.get_by_role("link", name=re.compile("^Questions$")).first).to_be_visible()
    page.get_by_role("navigation", name="Language").get_by_role("link", name="简体中文").click()
    expect(page.get_by_role("button", name="搜索")).to_be_visible()
