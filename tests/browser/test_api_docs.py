"""The API documentation page: Swagger UI from our static files, under the site's strict CSP."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_api_docs_show_every_endpoint_with_no_console_error_or_csp_violation(page, site_content):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Zhiku API")
    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible()
    paths = {text.replace("\u200b", "") for text in operations.all_inner_texts()}
    assert paths == {
        "/api/questions/",
        "/api/questions/{pk}/",
        "/api/resources/",
        "/api/resources/{pk}/",
        "/api/tools/invert/",
        "/api/suggest/",
    }

    # Trying an operation out runs it against this site.
    operation = page.locator("#operations-questions-qa_api_question_list")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_contain_text("200")
    expect(operation.locator(".live-responses-table .microlight").first).to_contain_text("灰度反色")
    screenshot(page, "api-docs-1280-light")

    origin = page.url.split("/api/")[0]
    assert all(url.startswith(origin) for url in requests), "everything comes from the site itself"
