"""The API as a documented contract: typed parameters, the OpenAPI document and its docs page (SPEC §9)."""

import re

import pytest

from tests.conftest import make_question

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("/api/questions/", "get"),
    ("/api/questions/{pk}/", "get"),
    ("/api/resources/", "get"),
    ("/api/resources/{pk}/", "get"),
    ("/api/suggest/", "get"),
    ("/api/tools/invert/", "post"),
}


@pytest.fixture
def schema(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def operation(schema, path, method="get"):
    return schema["paths"][path][method]


def test_the_document_is_openapi_3_and_lists_every_endpoint(schema):
    assert schema["openapi"].startswith("3.")
    listed = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert listed == ENDPOINTS


def test_list_parameters_are_typed(schema):
    params = {p["name"]: p["schema"] for p in operation(schema, "/api/questions/")["parameters"]}
    assert set(params) == {"q", "tag", "sort", "page"}
    assert params["sort"]["enum"] == ["new", "views", "updated"]
    assert params["page"]["type"] == "integer" and params["page"]["minimum"] == 1
    assert params["q"]["maxLength"] == 200
    resource_params = {p["name"]: p["schema"] for p in operation(schema, "/api/resources/")["parameters"]}
    assert set(resource_params) == {"type", "sort", "page"}
    assert resource_params["sort"]["enum"] == ["new", "downloads"]


def resolve(schema, ref_holder):
    name = ref_holder["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]


def json_schema_of(schema, path, status, method="get"):
    content = operation(schema, path, method)["responses"][status]["content"]
    return resolve(schema, content["application/json"]["schema"])


def test_response_schemas_name_every_field(schema):
    page = json_schema_of(schema, "/api/questions/", "200")
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    item = resolve(schema, page["properties"]["results"]["items"])
    assert set(item["properties"]) == {"id", "title", "url", "tags", "views", "created"}
    detail = json_schema_of(schema, "/api/questions/{pk}/", "200")
    assert set(detail["properties"]) == {
        *item["properties"],
        "question_html",
        "answer_html",
        "related",
        "resources",
    }
    resource = json_schema_of(schema, "/api/resources/{pk}/", "200")
    assert {"description_html", "sha256", "questions", "download_url"} <= set(resource["properties"])


def test_errors_are_documented_as_the_one_error_shape(schema):
    for path, status in [("/api/questions/", "400"), ("/api/questions/{pk}/", "404")]:
        assert json_schema_of(schema, path, status)["properties"].keys() == {"error"}
    invert = operation(schema, "/api/tools/invert/", "post")
    assert {"400", "413", "415", "429"} <= set(invert["responses"])


def test_the_image_tool_is_a_multipart_upload_answering_image_bytes(schema):
    invert = operation(schema, "/api/tools/invert/", "post")
    form = invert["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["image"]["format"] == "binary"
    assert form["properties"]["mode"]["enum"] == ["gray", "color"]
    images = invert["responses"]["200"]["content"]
    assert {"image/png", "image/jpeg", "image/gif", "image/webp"} <= set(images)
    assert images["image/png"]["schema"] == {"type": "string", "format": "binary"}


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("/api/questions/?page=abc", "page"),
        ("/api/questions/?page=" + "9" * 5000, "page"),
        ("/api/questions/?sort=bogus", "sort"),
        ("/api/questions/?q=" + "字" * 201, "q"),
        ("/api/questions/?q=a%00b", "NUL"),
        ("/api/questions/?tag=" + "x" * 101, "tag"),
        ("/api/resources/?sort=size", "sort"),
        ("/api/resources/?type=%00", "NUL"),
        ("/api/resources/?page=1.5", "page"),
    ],
)
def test_hostile_parameters_are_a_clear_json_400(client, url, word):
    response = client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert word in response.json()["error"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/questions/99999999/",
        "/api/questions/9999999999999999999999/",
        "/api/questions/abc/",
        "/api/questions/-1/",
        "/api/resources/424242/",
        "/api/questions/?page=" + "9" * 30,
        "/api/resources/?page=2",
    ],
)
def test_unknown_ids_and_pages_are_a_json_404(client, url):
    make_question()
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


def test_empty_parameters_take_their_defaults(client):
    make_question()
    assert client.get("/api/questions/?page=&sort=&q=&tag=").json()["count"] == 1
    assert client.get("/api/resources/?page=&sort=&type=").status_code == 200


def test_a_method_the_path_does_not_take_is_a_json_405_with_allow(client):
    response = client.put("/api/questions/")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert "PUT" in response.json()["error"]


def test_head_is_answered_like_get(client):
    make_question()
    assert client.head("/api/questions/").status_code == 200


# --- the docs page -----------------------------------------------------------------------------


def test_docs_page_loads_swagger_ui_from_our_static_files_with_no_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts, "Swagger UI is started by a script file"
    for attributes, body in scripts:
        assert 'src="/static/' in attributes and not body.strip()
    assert "swagger-ui-bundle.js" in html and "js/api-docs.js" in html
    assert "style=" not in html and "<style" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "nothing from another host"
    assert 'data-openapi-url="/api/openapi.json"' in html
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_docs_page_assets_exist():
    from django.contrib.staticfiles import finders

    for name in ["ninja/swagger-ui-bundle.js", "ninja/swagger-ui.css", "js/api-docs.js"]:
        assert finders.find(name), name


def test_the_docs_page_allows_data_images_and_nothing_else_more(client):
    """Swagger UI draws its icons as data: SVG images; only this page lets them in."""
    docs = client.get("/api/docs/")["Content-Security-Policy"]
    img_src = next(part for part in docs.split(";") if part.strip().startswith("img-src")).split()
    assert img_src[1:] == ["'self'", "data:"]
    assert "'unsafe-inline'" not in docs and "data:" not in docs.replace("img-src 'self' data:", "")
    assert "data:" not in client.get("/")["Content-Security-Policy"]
