"""The image tool: pick or drop a picture, see it, upload with progress, get the inverse."""

import base64
import io
import random
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, check_accessibility, horizontal_overflow, screenshot

pytestmark = pytest.mark.browser


def _picture(width=640, height=480) -> bytes:
    """A noisy RGB PNG (about 1 MB, so the upload reports progress) with a known corner."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    image.putpixel((0, 0), (200, 100, 50))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _expected_corner(data: bytes) -> int:
    gray = Image.open(io.BytesIO(data)).convert("L")
    return 255 - gray.getpixel((0, 0))


def _record_status(page):
    page.evaluate(
        """() => {
            window.__statuses = [];
            const status = document.querySelector("[data-invert-status]");
            new MutationObserver(() => window.__statuses.push(status.textContent))
                .observe(status, {childList: true, characterData: true, subtree: true});
        }"""
    )


def test_pick_a_file_preview_upload_and_download_the_inverse(page, site_content):
    data = _picture()
    page.goto("/tools/invert/")
    check_accessibility(page)
    page.get_by_label("选择图片，或拖放到这里").set_input_files(
        {"name": "猫.png", "mimeType": "image/png", "buffer": data}
    )
    original = page.locator("img[data-invert-original]")
    expect(original).to_have_attribute("src", re.compile(r".+"))
    assert page.evaluate("document.querySelector('img[data-invert-original]').naturalWidth") == 640

    _record_status(page)
    page.get_by_role("button", name="反色").click()
    result = page.locator("[data-invert-result]")
    expect(result).to_be_visible()
    expect(page.locator("[data-invert-status]")).to_have_text("完成")
    statuses = page.evaluate("window.__statuses")
    assert any(text.startswith("上传中") for text in statuses), statuses
    output = page.locator("img[data-invert-output]")
    page.wait_for_function("document.querySelector('img[data-invert-output]').naturalWidth > 0")
    expect(output).to_have_attribute("alt", "反色后的图片")
    # Original and result side by side on a wide screen.
    left, right = original.bounding_box(), output.bounding_box()
    assert right["x"] >= left["x"] + left["width"]
    check_accessibility(page)
    screenshot(page, "invert-1280-light")

    with page.expect_download() as info:
        page.locator("[data-invert-download]").click()
    download = info.value
    assert "inverted" in download.suggested_filename
    inverted = Image.open(download.path())
    assert inverted.mode == "L"
    assert inverted.getpixel((0, 0)) == _expected_corner(data)


def test_drop_a_file_on_the_tool(open_page, site_content):
    page = open_page(viewport=PHONE, theme="dark")
    page.goto("/tools/invert/")
    payload = base64.b64encode(_picture(120, 90)).decode()
    transfer = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
            return transfer;
        }""",
        payload,
    )
    drop = page.locator("[data-invert-drop]")
    drop.dispatch_event("dragenter", {"dataTransfer": transfer})
    drop.dispatch_event("drop", {"dataTransfer": transfer})
    assert page.evaluate("document.querySelector('#invert-image').files[0].name") == "dropped.png"
    # expect() polls from Playwright's own script; wait_for_function would need eval, which the CSP blocks.
    expect(page.locator("img[data-invert-original]")).to_have_js_property("naturalWidth", 120)

    page.get_by_label("彩色：每个通道分别取反").check()
    page.get_by_role("button", name="反色").click()
    expect(page.locator("[data-invert-result]")).to_be_visible()
    expect(page.locator("img[data-invert-output]")).to_have_js_property("naturalWidth", 120)
    assert horizontal_overflow(page) <= 0
    check_accessibility(page)
    screenshot(page, "invert-360-dark")


def test_tool_works_as_a_plain_form_without_javascript(open_page, site_content):
    data = _picture(80, 60)
    page = open_page(javascript=False)
    page.goto("/tools/invert/")
    upload = {"name": "plain.png", "mimeType": "image/png", "buffer": data}
    page.locator("#invert-image").set_input_files(upload)
    page.get_by_role("button", name="反色").click()
    result = page.locator("[data-invert-result]")
    expect(result).to_be_visible()
    expect(page.locator("img[data-invert-output]")).to_have_attribute("src", re.compile(r".+"))
    download = page.locator("[data-invert-download]")
    expect(download).to_have_attribute("download", re.compile("inverted"))
    screenshot(page, "invert-nojs-1280-light")


def test_tool_explains_a_file_that_is_not_an_image(page, page_problems, site_content):
    # The browser logs the API's 400 answer; that refusal is what this test expects.
    page_problems.allow(r"status of 400 .*/api/tools/invert/")
    page.goto("/tools/invert/")
    page.locator("#invert-image").set_input_files(
        {"name": "notes.png", "mimeType": "image/png", "buffer": b"this is plain text, not a picture"}
    )
    page.get_by_role("button", name="反色").click()
    error = page.locator("[data-invert-error]")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    # In the page's language, like every other message.
    expect(error).to_contain_text("这个文件不是本工具能读取的图片")
    # No inverted picture and nothing to download.
    # (no <img> at all: one without a src is invalid HTML)
    expect(page.locator("img[data-invert-output]")).to_have_count(0)
    expect(page.locator("[data-invert-download]")).not_to_have_attribute("href", re.compile(".*"))
    # Nor a result section holding a broken preview and a download button that does nothing.
    expect(page.locator("[data-invert-result]")).to_be_hidden()


def test_a_picture_the_browser_cannot_show_gets_no_broken_preview(page, site_content):
    """A TIFF is a valid upload, but Chromium cannot draw it: its preview is left out, not shown broken."""
    buffer = io.BytesIO()
    Image.new("L", (40, 30), 90).save(buffer, "TIFF")
    page.goto("/tools/invert/")
    page.locator("#invert-image").set_input_files(
        {"name": "scan.tif", "mimeType": "image/tiff", "buffer": buffer.getvalue()}
    )
    page.get_by_role("button", name="反色").click()
    expect(page.locator("[data-invert-status]")).to_have_text("完成")
    expect(page.locator("[data-invert-result]")).to_be_visible()
    expect(page.locator("img[data-invert-original]")).to_be_hidden()
    expect(page.locator("img[data-invert-output]")).to_be_hidden()
    expect(page.locator("[data-invert-download]")).to_have_attribute("download", "scan-inverted.tif")
