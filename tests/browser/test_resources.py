"""Downloading a resource from its question."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_accessibility

pytestmark = pytest.mark.browser


def test_download_a_resource_from_the_question_page(page, site_content):
    page.goto(site_content["main"].get_absolute_url())
    section = page.locator("section[aria-labelledby=resources-heading]")
    section.get_by_role("link", name="图像处理入门讲义").click()
    expect(page.locator("h1")).to_have_text("图像处理入门讲义")
    expect(page.locator(".resource")).to_contain_text(site_content["resource"].original_name)
    check_accessibility(page)

    with page.expect_download() as info:
        page.get_by_role("link", name="下载").first.click()
    download = info.value
    assert download.suggested_filename == "图像处理入门.pdf"
    assert download.failure() is None
    with open(download.path(), "rb") as fh:
        assert fh.read().startswith(b"%PDF-1.4")

    page.reload()
    expect(page.locator(".downloads")).to_have_text("1")
