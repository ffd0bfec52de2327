"""Responsive layout and themes: phones to wide screens, light and dark, with screenshots."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, check_accessibility, horizontal_overflow, screenshot

pytestmark = pytest.mark.browser

PAGES = {
    "home": lambda content: "/",
    "question": lambda content: content["main"].get_absolute_url(),
    "questions": lambda content: "/questions/",
    "tag": lambda content: "/tags/python/",
    "resources": lambda content: "/resources/",
    "resource": lambda content: content["resource"].get_absolute_url(),
    "search": lambda content: "/search/?q=反色",
    "tool": lambda content: "/tools/invert/",
}


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_pages_fit_the_screen_pass_axe_and_are_captured(open_page, site_content, viewport, theme):
    page = open_page(viewport=viewport, theme=theme)
    for name, url in PAGES.items():
        page.goto(url(site_content))
        expect(page.locator("h1")).to_be_visible()
        assert horizontal_overflow(page) <= 0, f"{name} scrolls sideways at {viewport['width']}px"
        assert page.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]
        check_accessibility(page)
        screenshot(page, f"{name}-{viewport['width']}-{theme}")


def _box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_sidebar_sits_beside_content_on_wide_screens(open_page, site_content):
    page = open_page(viewport=DESKTOP)
    page.goto(site_content["main"].get_absolute_url())
    content, sidebar = _box(page, "main.content"), _box(page, "aside.sidebar")
    assert sidebar["x"] >= content["x"] + content["width"]
    assert sidebar["y"] < content["y"] + 200


def test_sidebar_folds_below_content_on_phones(open_page, site_content):
    page = open_page(viewport=PHONE)
    page.goto(site_content["main"].get_absolute_url())
    content, sidebar = _box(page, "main.content"), _box(page, "aside.sidebar")
    assert sidebar["y"] >= content["y"] + content["height"]
    assert sidebar["width"] <= PHONE["width"]


def test_dark_theme_follows_the_system(open_page, site_content):
    page = open_page(theme="dark")
    page.goto("/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 21)"
    expect(page.get_by_role("button", name="深色模式")).to_have_attribute("aria-pressed", "true")


def test_theme_toggle_is_remembered_without_a_flash(open_page, site_content):
    page = open_page(theme="light")
    page.goto("/")
    toggle = page.get_by_role("button", name="深色模式")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"

    # On the next page the theme is set before the body is parsed: the
    # attribute is already there when the first element after <head> exists.
    page.add_init_script(
        script="""new MutationObserver((records, observer) => {
            if (document.body) { window.__themeAtBody = document.documentElement.dataset.theme;
                                 observer.disconnect(); }
        }).observe(document, {childList: true, subtree: true});"""
    )
    page.goto(site_content["main"].get_absolute_url())
    assert page.evaluate("window.__themeAtBody") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 17, 21)"
    check_accessibility(page)

    page.get_by_role("button", name="深色模式").click()
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
