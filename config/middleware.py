"""Request ids: one per request, in every log line and in the ``X-Request-ID`` header."""

import re
import uuid

from config.logging import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is reused only when it is short and plain, so it cannot inject
# anything into headers or log lines.
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


class RequestIdMiddleware:
    """Take the id a load balancer sent, or make one; answer with it.

    Placed first so even redirects and errors from later middleware carry it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _ACCEPTABLE_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def add_static_security_headers(headers, path: str, url: str) -> None:
    """WhiteNoise hook: static files answer before the CSP and frame middleware
    run, so give them the same policy (an SVG is a document that could carry script)."""
    from csp.utils import build_policy
    from django.conf import settings

    headers["Content-Security-Policy"] = build_policy()
    headers["X-Frame-Options"] = settings.X_FRAME_OPTIONS


class PublicAPIReadsMiddleware:
    """``Access-Control-Allow-Origin: *`` on GET and HEAD answers under ``/api/``, errors included.

    The API's reads are public and take no cookies, so any web page may fetch
    them; the browser sends no credentials with such requests, and none are
    allowed. The image tool's POST and ``/mcp`` stay same-origin (docs/api.md).
    """

    def __init__(self, get_response):
        # Imported here: settings import this module, and config.jsonapi needs settings ready.
        from config.jsonapi import wants_json

        self.get_response = get_response
        self.is_api = wants_json

    def __call__(self, request):
        response = self.get_response(request)
        if request.method in ("GET", "HEAD") and self.is_api(request):
            response["Access-Control-Allow-Origin"] = "*"
        return response
