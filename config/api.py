"""The site's JSON API (SPEC §9): one NinjaAPI, with the routers of ``qa.api`` and
``resources.api``; and the MCP server at ``/mcp`` with the tools of ``qa.mcp`` and ``resources.mcp``.

Every error it gives is ``{"error": "..."}`` from ``config.jsonapi.json_error``:
invalid parameters are a 400 naming the parameter, unknown ids and pages a 404,
a method the path does not take a 405. The OpenAPI document is served at
``/api/openapi.json`` and shown to people at ``/api/docs/`` (Swagger UI from
our static files, started by ``static/js/api-docs.js``: no inline script).
"""

import functools

from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.openapi.docs import DocsBase
from ninja.renderers import JSONRenderer

from config.jsonapi import json_error
from config.mcp import MCPServer
from qa import mcp as qa_mcp
from qa.api import router as qa_router
from resources import mcp as resources_mcp
from resources.api import router as resources_router


class Renderer(JSONRenderer):
    # Chinese text stays readable in the body instead of \uXXXX escapes.
    json_dumps_params = {"ensure_ascii": False}


class SwaggerDocs(DocsBase):
    """Swagger UI from the static files ninja ships, configured by data attributes."""

    def render_page(self, request, api, **kwargs):
        context = {"api": api, "openapi_url": self.get_openapi_url(api, kwargs)}
        response = render(request, "api_docs.html", context)
        # Swagger UI's stylesheet draws its icons as data: SVG images; this page alone
        # allows them (no script source is widened).
        response._csp_update = {"img-src": ["data:"]}
        return response


class ZhikuAPI(NinjaAPI):
    def get_content_type(self) -> str:
        # JSON is UTF-8 by definition (RFC 8259); a charset parameter adds nothing.
        return self.renderer.media_type


api = ZhikuAPI(
    title="Zhiku API",
    version="1",
    description=(
        "Read-only JSON API of the Zhiku Q&A knowledge site, and its image inversion tool. "
        'Every error is `{"error": "..."}`. Lists hold 20 items a page. docs/api.md says more.'
    ),
    urls_namespace="api",
    renderer=Renderer(),
    docs=SwaggerDocs(),
    docs_url="/docs/",
    openapi_url="/openapi.json",
)
api.add_router("", qa_router)
api.add_router("", resources_router)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"][1:]) or error["loc"][0]
    return f"{where}: {error['msg']}"


@api.exception_handler(ValidationError)
def invalid_parameters(request, exc):
    return json_error("; ".join(_describe(error) for error in exc.errors), 400)


@api.exception_handler(HttpError)
def http_error(request, exc):
    return json_error(exc.message, exc.status_code)


@api.exception_handler(Http404)
def not_found(request, exc):
    return json_error("not found", 404)


def _api_view(view):
    """What every API path does besides its operations: HEAD is answered as GET
    (the server drops the body), and a method the path does not take is a JSON 405."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "HEAD":
            request.method = "GET"
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = json_error(f"{request.method} is not allowed here; use {allowed}.", 405)
            response["Allow"] = allowed
        return response

    return wrapped


def urls():
    """The API's URL patterns in namespace ``api``, for ``path("api/", urls())``."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback = _api_view(pattern.callback)
    return patterns, app_name, namespace


mcp = MCPServer(
    name="zhiku",
    title="Zhiku (知库)",
    version="1",
    instructions=(
        "Zhiku is a Q&A knowledge site on programming and image processing, mostly in Chinese with "
        "English technical words. Use search_questions to find questions (either language works), then "
        "get_question for the full answer as Markdown. Cite the question URLs you use."
    ),
    tools=qa_mcp.TOOLS + resources_mcp.TOOLS,
)
