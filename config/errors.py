"""Error pages in the site's style; API paths get JSON instead of HTML.

The 500 answer names the request id (also in the X-Request-ID header and in
the logged traceback) so a report can be matched to the log; the error itself
is never shown to the visitor.
"""

import logging

from django.http import HttpResponseServerError
from django.template import loader
from django.views import defaults

from config.jsonapi import json_error, wants_json

logger = logging.getLogger(__name__)


def page_not_found(request, exception):
    if wants_json(request):
        return json_error("not found", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    request_id = getattr(request, "request_id", "")
    if wants_json(request):
        return json_error("internal error", 500, request_id=request_id)
    try:
        body = loader.render_to_string("500.html", {"request_id": request_id})
    except Exception:
        # The error page itself must not fail (e.g. a missing static manifest).
        logger.exception("500.html could not be rendered")
        body = "<!doctype html><title>500</title><h1>Server error</h1>"
    return HttpResponseServerError(body)
