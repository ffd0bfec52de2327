"""An editor looks back through a question's history, compares an old version with the
current one word by word, restores it in one click and sees it on the site."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility, screenshot
from tests.browser.test_admin import staff_page  # noqa: F401 - the logged-in editor fixture

pytestmark = pytest.mark.browser


def save_answer(page, question, text):
    page.goto(f"/admin/qa/question/{question.pk}/change/")
    page.locator("textarea#id_answer").fill(text)
    page.get_by_role("button", name=re.compile("^(保存|Save)$")).click()
    expect(page.locator(".messagelist")).to_be_visible()


def test_restore_an_older_version_and_see_it_on_the_site(staff_page, site_content):  # noqa: F811
    page = staff_page
    question = site_content["related"]
    save_answer(page, question, "把图像反色以后保存，亮的变暗，暗的变亮。")
    save_answer(page, question, "把图像灰度化以后保存，颜色只剩明暗。")

    page.goto(f"/admin/qa/question/{question.pk}/history/")
    rows = page.locator("table.history-versions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("editor")
    check_accessibility(page, context="#content-main")

    rows.nth(1).get_by_role("link", name=re.compile("与当前版本比较|Compare")).click()
    diff = page.locator("table.history-diff")
    expect(diff.locator("del").first).to_have_text("反色")
    expect(diff.locator("ins").first).to_have_text("灰度化")
    check_accessibility(page, context="#content-main")
    screenshot(page, "admin-history-diff-1280-light")

    page.get_by_role("button", name=re.compile("恢复这个版本|Restore this version")).click()
    expect(page.locator(".messagelist")).to_contain_text(re.compile("已恢复版本|restored"))
    expect(page.locator("textarea#id_answer")).to_have_value("把图像反色以后保存，亮的变暗，暗的变亮。")

    page.goto(question.get_absolute_url())
    expect(page.locator(".answer .prose")).to_contain_text("把图像反色以后保存")
    page.goto(f"/admin/qa/question/{question.pk}/history/")
    expect(rows).to_have_count(3)
