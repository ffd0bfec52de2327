"""Error pages in the site's style; API paths get JSON instead of HTML.

The 500 answer names the request id (also in the X-Request-ID header and in
the logged traceback) so a report can be matched to the log; the error itself
is never shown to the visitor.
"""

import logging

from django.http import HttpResponseServerError, JsonResponse
from django.template import loader
from django.views import defaults

logger = logging.getLogger(__name__)


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _wants_json(request):
        return JsonResponse({"error": "not found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    request_id = getattr(request, "request_id", "")
    if _wants_json(request):
        return JsonResponse({"error": "internal error", "request_id": request_id}, status=500)
    try:
        body = loader.render_to_string("500.html", {"request_id": request_id})
    except Exception:
        # The error page itself must not fail (e.g. a missing static manifest).
        logger.exception("500.html could not be rendered")
        body = "<!doctype html><title>500</title><h1>Server error</h1>"
    return HttpResponseServerError(body)
