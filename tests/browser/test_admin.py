"""Staff edit an answer in the admin with a live Markdown preview and see it on the site."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

PASSWORD = "zhiku-browser-test-pw"
NEW_ANSWER = "## 更新后的步骤\n\n用 **Pillow** 的 `ImageOps.invert`：\n\n```bash\npip install Pillow\n```\n"


@pytest.fixture
def staff_page(open_page, django_user_model, site_content):
    django_user_model.objects.create_superuser("editor", "editor@example.com", PASSWORD)
    page = open_page()
    page.goto("/admin/")
    page.get_by_label(re.compile("用户名|Username")).fill("editor")
    page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("登录|Log in")).click()
    expect(page.locator("#user-tools")).to_contain_text("editor")
    return page


def test_edit_answer_with_live_preview_then_see_it_on_the_site(staff_page, site_content):
    page = staff_page
    question = site_content["main"]
    page.goto(f"/admin/qa/question/{question.pk}/change/")
    answer = page.locator("textarea#id_answer")
    preview = page.locator(".markdown-preview").nth(1)
    # The preview starts with the saved answer, rendered by the site's pipeline.
    expect(preview.locator(".highlight .filename")).to_have_text("python")

    answer.fill(NEW_ANSWER)
    expect(preview.locator("h2")).to_contain_text("更新后的步骤")
    expect(preview.locator("strong")).to_have_text("Pillow")
    expect(preview.locator(".highlight .filename")).to_have_text("bash")
    screenshot(page, "admin-preview-1280-light")

    page.get_by_role("button", name=re.compile("^(保存|Save)$")).click()
    expect(page.locator(".messagelist")).to_be_visible()

    page.goto(question.get_absolute_url())
    prose = page.locator(".answer .prose")
    expect(prose.locator("h2")).to_contain_text("更新后的步骤")
    expect(prose.locator("strong")).to_have_text("Pillow")
    expect(prose).not_to_contain_text("cat-inverted.png")


def test_resource_description_has_a_live_preview(staff_page, site_content):
    page = staff_page
    resource = site_content["resource"]
    page.goto(f"/admin/resources/resource/{resource.pk}/change/")
    description = page.locator("textarea#id_description")
    description.fill("第二版讲义，新增 *直方图均衡* 一章[^1]。\n\n[^1]: 见第 4 章。")
    preview = page.locator(".markdown-preview").first
    expect(preview.locator("em")).to_have_text("直方图均衡")
    expect(preview.locator(".footnote")).to_contain_text("见第 4 章")
