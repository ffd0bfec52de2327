"""A stateless Model Context Protocol server over Streamable HTTP, answering in JSON (no SSE).

The server is a plain Django view (docs/api.md says why): each POST carries one
JSON-RPC 2.0 message. A request gets its response as ``application/json``; a
notification or a response gets ``202 Accepted`` with no body. There is no
session (no ``Mcp-Session-Id``) and no server-to-client stream, so ``GET``
answers 405 as the transport allows. Methods: ``initialize`` (with protocol
version negotiation), ``ping``, ``tools/list`` and ``tools/call``; tools are
read-only. Malformed messages get JSON-RPC errors, never a 500.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from config.ratelimit import hit

logger = logging.getLogger(__name__)

# Newest first; an unknown version asked for is answered with the newest.
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
SERVER_ERROR = -32000

MAX_BODY_BYTES = 64 * 1024


class RPCError(Exception):
    def __init__(self, code: int, message: str, data=None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


class ToolError(Exception):
    """Raised by a tool for a call it cannot answer (unknown id, bad argument):
    reported to the model as a tool result with ``isError``, so it can correct itself."""


@dataclass
class ToolResult:
    text: str  # what a model reads: Markdown
    data: dict | None = None  # the same as structured JSON


@dataclass
class Tool:
    name: str
    title: str
    description: str
    handler: Callable  # handler(request, **arguments) -> ToolResult
    properties: dict = field(default_factory=dict)
    required: tuple = ()

    def describe(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": {
                "type": "object",
                "properties": self.properties,
                "required": list(self.required),
                "additionalProperties": False,
            },
            "annotations": {"title": self.title, "readOnlyHint": True, "openWorldHint": False},
        }


def _rpc_response(message_id, *, result=None, error: RPCError | None = None, status: int = 200):
    body = {"jsonrpc": "2.0", "id": message_id}
    if error is None:
        body["result"] = result
    else:
        body["error"] = {"code": error.code, "message": error.message}
        if error.data is not None:
            body["error"]["data"] = error.data
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


class MCPServer:
    def __init__(self, *, name: str, title: str, version: str, instructions: str, tools: list[Tool]):
        self.info = {"name": name, "title": title, "version": version}
        self.instructions = instructions
        self.tools = {tool.name: tool for tool in tools}

    # --- HTTP -----------------------------------------------------------------------------------

    def view(self):
        @csrf_exempt  # read-only, no cookies or session are used: nothing to forge
        @never_cache
        def mcp(request):
            if request.method != "POST":
                response = JsonResponse(
                    {
                        "error": "This MCP server speaks Streamable HTTP with JSON responses: POST one "
                        "JSON-RPC message. It offers no event stream to GET."
                    },
                    status=405,
                )
                response["Allow"] = "POST"
                return response
            return self.handle_post(request)

        return mcp

    def handle_post(self, request):
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.get_host():
            # DNS rebinding protection, as the transport asks of servers.
            return _rpc_response(None, error=RPCError(INVALID_REQUEST, "Origin not allowed"), status=403)
        version = request.headers.get("MCP-Protocol-Version")
        if version and version not in PROTOCOL_VERSIONS:
            error = RPCError(
                INVALID_REQUEST,
                f"Unsupported MCP-Protocol-Version {version!r}",
                {"supported": list(PROTOCOL_VERSIONS)},
            )
            return _rpc_response(None, error=error, status=400)
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return _rpc_response(None, error=RPCError(INVALID_REQUEST, "Message too large"), status=413)
        try:
            message = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return _rpc_response(None, error=RPCError(PARSE_ERROR, "Parse error: the body is not JSON"))
        if isinstance(message, list):
            error = RPCError(INVALID_REQUEST, "Batches are not supported: send one message per request")
            return _rpc_response(None, error=error)
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            error = RPCError(
                INVALID_REQUEST, 'Invalid Request: expected a JSON-RPC 2.0 object ("jsonrpc": "2.0")'
            )
            return _rpc_response(None, error=error)
        if "method" not in message:
            # A response or error from the client to something we never asked: accepted, ignored.
            return HttpResponse(status=202)
        message_id = message.get("id")
        is_notification = "id" not in message
        try:
            if not is_notification and (
                isinstance(message_id, bool) or not isinstance(message_id, str | int)
            ):
                raise RPCError(INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
            if not isinstance(message["method"], str):
                raise RPCError(INVALID_REQUEST, "Invalid Request: method must be a string")
            params = message.get("params", {})
            if not isinstance(params, dict):
                raise RPCError(INVALID_PARAMS, "Invalid params: params must be an object")
            if is_notification:
                return HttpResponse(status=202)  # notifications/initialized and the like: nothing to do
            if message["method"] == "tools/call":
                retry_after = hit(request, "search")
                if retry_after is not None:
                    error = RPCError(
                        SERVER_ERROR,
                        f"Too many requests. Please wait {retry_after} seconds and try again.",
                        {"retryAfter": retry_after},
                    )
                    response = _rpc_response(message_id, error=error, status=429)
                    response["Retry-After"] = str(retry_after)
                    return response
            result = self.dispatch(request, message["method"], params)
        except RPCError as error:
            return _rpc_response(message_id, error=error)
        return _rpc_response(message_id, result=result)

    # --- JSON-RPC methods -----------------------------------------------------------------------

    def dispatch(self, request, method: str, params: dict):
        if method == "initialize":
            return self.initialize(params)
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": [tool.describe() for tool in self.tools.values()]}
        if method == "tools/call":
            return self.call_tool(request, params)
        raise RPCError(METHOD_NOT_FOUND, f"Method not found: {method}")

    def initialize(self, params: dict) -> dict:
        asked = params.get("protocolVersion")
        if not isinstance(asked, str):
            raise RPCError(INVALID_PARAMS, "Invalid params: protocolVersion (a string) is required")
        return {
            "protocolVersion": asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0],
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": self.info,
            "instructions": self.instructions,
        }

    def call_tool(self, request, params: dict) -> dict:
        name = params.get("name")
        if not isinstance(name, str):
            raise RPCError(INVALID_PARAMS, "Invalid params: name (a string) is required")
        tool = self.tools.get(name)
        if tool is None:
            raise RPCError(INVALID_PARAMS, f"Unknown tool: {name}", {"tools": sorted(self.tools)})
        arguments = params.get("arguments") or {}
        if not isinstance(arguments, dict):
            raise RPCError(INVALID_PARAMS, "Invalid params: arguments must be an object")
        try:
            result = tool.handler(request, **self._checked(tool, arguments))
        except ToolError as exc:
            return {"content": [{"type": "text", "text": str(exc)}], "isError": True}
        answer = {"content": [{"type": "text", "text": result.text}], "isError": False}
        if result.data is not None:
            answer["structuredContent"] = result.data
        return answer

    @staticmethod
    def _checked(tool: Tool, arguments: dict) -> dict:
        """The arguments, checked against the tool's input schema (the few JSON types used)."""
        unknown = sorted(set(arguments) - set(tool.properties))
        if unknown:
            raise ToolError(
                f"Unknown argument(s): {', '.join(unknown)}. The tool takes: "
                f"{', '.join(tool.properties) or 'no arguments'}."
            )
        missing = [name for name in tool.required if name not in arguments]
        if missing:
            raise ToolError(f"Missing argument(s): {', '.join(missing)}.")
        for name, value in arguments.items():
            spec = tool.properties[name]
            kind = spec["type"]
            if kind == "integer":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ToolError(f"{name} must be an integer.")
                if not spec.get("minimum", value) <= value <= spec.get("maximum", value):
                    raise ToolError(f"{name} must be between {spec['minimum']} and {spec['maximum']}.")
            elif kind == "string":
                if not isinstance(value, str):
                    raise ToolError(f"{name} must be a string.")
                if "\x00" in value:
                    raise ToolError(f"{name} must not contain NUL characters.")
                if len(value) > spec.get("maxLength", len(value)):
                    raise ToolError(f"{name} must be at most {spec['maxLength']} characters.")
        return arguments
