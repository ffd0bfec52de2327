"""Every kind of page is valid HTML: the Nu HTML Checker (vnu-jar, run with Java) reports no error.

The pages are fetched from the live server as the server sends them (not the
DOM after scripts ran), so what is checked is the markup the templates write.
"""

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from tests.browser.conftest import BROWSER_DIR
from tests.conftest import make_question

pytestmark = pytest.mark.browser

VNU_JAR = BROWSER_DIR / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def validate(documents: dict[str, str], folder: Path) -> list[str]:
    """vnu's errors for each named HTML document, as ``name: line: message`` lines."""
    java = shutil.which("java")
    if java is None:
        pytest.fail("java is missing: apt-get install -y default-jre-headless (see .ci/browser.sh)")
    if not VNU_JAR.exists():
        pytest.fail(f"{VNU_JAR} is missing: run `npm ci` in tests/browser (see .ci/browser.sh)")
    files = {}
    for number, (name, html) in enumerate(documents.items()):
        path = folder / f"page-{number}.html"
        path.write_text(html, encoding="utf-8")
        files[path.name] = name
    run = subprocess.run(
        [
            java,
            "-jar",
            str(VNU_JAR),
            "--errors-only",
            "--format",
            "json",
            *(str(p) for p in folder.glob("*.html")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(run.stderr or run.stdout or '{"messages": []}')
    errors = []
    for message in report["messages"]:
        name = files.get(message.get("url", "").rsplit("/", 1)[-1], message.get("url"))
        where = message.get("lastLine", "?")
        errors.append(f"{name}: {where}: {message['message']} [{message.get('extract', '').strip()}]")
    return errors


def invert_result_page(context, live_server) -> str:
    """The tool's page after a plain form post (no JavaScript): both pictures and the download."""
    page = context.request.get(f"{live_server.url}/tools/invert/")
    token = next(cookie["value"] for cookie in context.cookies() if cookie["name"] == "csrftoken")
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 40, 90)).save(buffer, "PNG")
    answer = context.request.post(
        f"{live_server.url}/tools/invert/",
        multipart={
            "csrfmiddlewaretoken": token,
            "mode": "color",
            "image": {"name": "小图.png", "mimeType": "image/png", "buffer": buffer.getvalue()},
        },
        headers={"Referer": page.url},
    )
    assert answer.status == 200, answer.text()[:500]
    return answer.text()


def test_every_kind_of_page_is_valid_html(media_root, browser, live_server, site_content, tmp_path):
    # Enough questions for pagination links, at times with microseconds, as the admin saves them.
    for number in range(22):
        make_question(title=f"分页问题 {number}", tags=["python"], created=timezone.now())
    main, resource = site_content["main"], site_content["resource"]
    pages = {
        "home": "/",
        "question list": "/questions/?sort=views",
        "question list, page 2": "/questions/?tag=python&page=2",
        "question": main.get_absolute_url(),
        "tag": "/tags/python/",
        "search": "/search/?q=灰度反色",
        "search, nothing found": "/search/?q=没有这样的词",
        "search, empty": "/search/",
        "resources": "/resources/",
        "resources, filtered": "/resources/?type=pdf&sort=downloads",
        "resource": resource.get_absolute_url(),
        "image tool": "/tools/invert/",
        "404": "/questions/999999/x/",
    }
    context = browser.new_context(extra_http_headers={"Accept-Language": "zh-CN"})
    try:
        documents = {}
        for name, path in pages.items():
            response = context.request.get(live_server.url + path)
            assert response.status == (404 if name == "404" else 200), f"{name} ({path}): {response.status}"
            documents[f"{name} ({path})"] = response.text()
        documents["image tool, result (no JavaScript)"] = invert_result_page(context, live_server)
        english = browser.new_context(extra_http_headers={"Accept-Language": "en"})
        try:
            documents["home in English"] = english.request.get(live_server.url + "/").text()
        finally:
            english.close()
    finally:
        context.close()

    folder = tmp_path / "pages"
    folder.mkdir()
    errors = validate(documents, folder)
    assert not errors, "the Nu HTML Checker found errors:\n" + "\n".join(errors)
