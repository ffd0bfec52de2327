"""The MCP server at /mcp (SPEC §9): the official Python SDK against a live server, and malformed JSON-RPC."""

import asyncio
import json

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from qa.models import Question
from tests.conftest import make_question, make_resource

TOOLS = {"search_questions", "get_question", "get_related", "list_tags", "list_resources", "get_resource"}


def run_session(url: str, steps):
    """Connect with the SDK's Streamable HTTP client, initialize, and run ``steps(session)``."""

    async def main():
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            return init, await steps(session)

    return asyncio.run(main())


@pytest.fixture
def content(db):
    neighbour = make_question(title="什么是灰度图像", answer="灰度只有亮度。", tags=["图像处理"])
    question = make_question(
        title="如何用 Python 反色图片",
        body="想把**图片**反色。",
        answer="用 Pillow：$T = 255 - S$。\n\n```python\nImageOps.invert(image)\n```",
        tags=["python", "图像处理"],
        related=[neighbour],
        views=9,
    )
    make_question(title="草稿：反色的秘密", answer="未发布", is_published=False)
    resource = make_resource(title="反色示例代码", questions=[question])
    return question, neighbour, resource


@pytest.mark.django_db(transaction=True)
def test_the_sdk_client_initializes_lists_and_calls_every_tool(content, live_server):
    question, neighbour, resource = content

    async def steps(session):
        listed = await session.list_tools()
        calls = {
            "search": await session.call_tool("search_questions", {"query": "反色"}),
            "search_tag": await session.call_tool("search_questions", {"query": "反色", "tag": "python"}),
            "question": await session.call_tool("get_question", {"id": question.pk}),
            "related": await session.call_tool("get_related", {"id": question.pk}),
            "tags": await session.call_tool("list_tags", {}),
            "resources": await session.call_tool("list_resources", {}),
            "resource": await session.call_tool("get_resource", {"id": resource.pk}),
            "missing": await session.call_tool("get_question", {"id": 987654}),
            "draft": await session.call_tool("get_question", {"id": question.pk + 2}),
            "bad": await session.call_tool("get_question", {"id": "one"}),
        }
        await session.send_ping()
        return listed, calls

    init, (listed, calls) = run_session(live_server.url + "/mcp", steps)
    assert init.server_info.name == "zhiku"
    assert init.capabilities.tools is not None
    assert {tool.name for tool in listed.tools} == TOOLS
    assert all(tool.annotations.read_only_hint for tool in listed.tools)

    search = calls["search"]
    assert not search.is_error
    titles = [item["title"] for item in search.structured_content["results"]]
    assert titles == ["如何用 Python 反色图片"]  # the draft is not found
    assert f"{live_server.url}{question.get_absolute_url()}" in search.content[0].text
    assert calls["search_tag"].structured_content["count"] == 1

    document = calls["question"].content[0].text
    assert document.startswith("# 如何用 Python 反色图片\n")
    assert "$T = 255 - S$" in document  # math stays LaTeX
    assert "```python\nImageOps.invert(image)\n```" in document  # the source Markdown
    assert "想把**图片**反色。" in document
    assert f"{live_server.url}{neighbour.get_absolute_url()}" in document
    data = calls["question"].structured_content
    assert data["url"] == live_server.url + question.get_absolute_url()
    assert data["markdown_url"].endswith(".md")
    assert data["tags"] == ["python", "图像处理"]

    assert [r["id"] for r in calls["related"].structured_content["related"]] == [neighbour.pk]
    tags = {t["name"]: t["count"] for t in calls["tags"].structured_content["tags"]}
    assert tags == {"图像处理": 2, "python": 1}
    assert [r["id"] for r in calls["resources"].structured_content["results"]] == [resource.pk]
    assert calls["resource"].structured_content["download_url"].startswith(live_server.url)
    assert calls["resource"].structured_content["questions"][0]["id"] == question.pk

    for name in ["missing", "draft", "bad"]:
        assert calls[name].is_error, name
    assert "987654" in calls["missing"].content[0].text
    assert Question.objects.get(pk=question.pk).views == 9  # MCP reads never count views


@pytest.mark.django_db(transaction=True)
def test_the_sdk_default_connect_falls_back_to_the_initialize_handshake(content, live_server):
    from mcp import Client

    async def main():
        async with Client(live_server.url + "/mcp") as client:
            return await client.call_tool("list_tags", {})

    result = asyncio.run(main())
    assert "图像处理" in result.content[0].text


# --- the protocol over the test client ---------------------------------------------------------


def rpc(client, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/mcp", data, content_type="application/json", headers=headers)


def call(method, params=None, id=1):
    message = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def error_code(response):
    assert response.status_code in (200, 400), response.content
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]["code"]


pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", -32700),
        (b"\xff\xfe", -32700),
        ("", -32700),
        ("[]", -32600),
        (json.dumps([call("ping")]), -32600),
        ("42", -32600),
        ('"ping"', -32600),
        (json.dumps({"id": 1, "method": "ping"}), -32600),
        (json.dumps({"jsonrpc": "1.0", "id": 1, "method": "ping"}), -32600),
        (json.dumps({"jsonrpc": "2.0", "id": 1, "method": 7}), -32600),
        (json.dumps({"jsonrpc": "2.0", "id": [1], "method": "ping"}), -32600),
        (json.dumps({"jsonrpc": "2.0", "id": None, "method": "ping"}), -32600),
        (json.dumps(call("resources/list")), -32601),
        (json.dumps(call("server/discover", {})), -32601),
        (json.dumps(call("initialize", {})), -32602),
        (json.dumps(call("initialize", [1, 2])), -32602),
        (json.dumps(call("tools/call")), -32602),
        (json.dumps(call("tools/call", {"name": 5})), -32602),
        (json.dumps(call("tools/call", {"name": "drop_tables"})), -32602),
        (json.dumps(call("tools/call", {"name": "list_tags", "arguments": [1]})), -32602),
    ],
)
def test_malformed_messages_get_json_rpc_errors(client, body, code):
    assert error_code(rpc(client, body)) == code


def test_a_request_gets_its_answer_with_its_id(client):
    response = rpc(client, call("ping", id="abc"))
    assert response.status_code == 200
    assert response.json() == {"jsonrpc": "2.0", "id": "abc", "result": {}}


def test_initialize_negotiates_the_protocol_version(client):
    params = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    result = rpc(client, call("initialize", params)).json()["result"]
    assert result["protocolVersion"] == "2025-06-18"
    assert result["serverInfo"]["name"] == "zhiku" and "tools" in result["capabilities"]
    params["protocolVersion"] = "1999-01-01"
    assert rpc(client, call("initialize", params)).json()["result"]["protocolVersion"] == "2025-11-25"


def test_no_session_id_is_given(client):
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    assert "Mcp-Session-Id" not in rpc(client, call("initialize", params))


def test_notifications_and_responses_are_accepted_with_no_body(client):
    response = rpc(client, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert response.status_code == 202 and response.content == b""
    assert rpc(client, {"jsonrpc": "2.0", "id": 3, "result": {}}).status_code == 202


def test_an_unsupported_protocol_version_header_is_a_400(client):
    response = rpc(client, call("ping"), **{"MCP-Protocol-Version": "1999-01-01"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32600


def test_a_foreign_origin_is_refused(client):
    response = rpc(client, call("ping"), Origin="https://evil.example")
    assert response.status_code == 403
    assert rpc(client, call("ping"), Origin="http://testserver").status_code == 200


def test_get_is_a_405_saying_what_to_do(client):
    response = client.get("/mcp")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "POST" in response.json()["error"]


def test_post_needs_no_csrf_token():
    from django.test import Client

    assert rpc(Client(enforce_csrf_checks=True), call("ping")).status_code == 200


def test_a_huge_message_is_refused(client):
    response = rpc(
        client, call("tools/call", {"name": "search_questions", "arguments": {"query": "x" * 100_000}})
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"query": 5},
        {"query": "反色", "page": "2"},
        {"query": "反色", "page": 0},
        {"query": "反色", "page": True},
        {"query": "a\x00b"},
        {"query": "x" * 201},
        {"query": "反色", "extra": 1},
        {"query": "反色", "page": 999},
        {"query": "   "},
    ],
)
def test_bad_tool_arguments_are_a_tool_error_the_model_can_read(client, arguments):
    make_question(title="反色")
    response = rpc(client, call("tools/call", {"name": "search_questions", "arguments": arguments}))
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is True and result["content"][0]["text"]


def test_tool_calls_are_rate_limited_like_search(client, settings):
    settings.ZHIKU_RATELIMIT = True
    settings.ZHIKU_RATELIMITS = {**settings.ZHIKU_RATELIMITS, "search": (2, 60)}
    message = call("tools/call", {"name": "list_tags", "arguments": {}})
    assert [rpc(client, message).status_code for _ in range(2)] == [200, 200]
    response = rpc(client, message)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["data"]["retryAfter"] >= 1
    assert rpc(client, call("ping")).status_code == 200  # only tool calls count
