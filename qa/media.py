"""Serving figure files (media) from whichever storage holds them.

Under ``make run`` (DEBUG off) nothing else serves ``MEDIA_URL``; in production a
web server may serve ``/media/figures/`` from ``MEDIA_ROOT`` itself with the same
headers (docs/deploy.md), and with S3 media this view streams the private object.
"""

import re

from django.http import FileResponse, Http404
from django.views.decorators.http import require_safe

from qa.figures import CONTENT_TYPES
from qa.models import Figure

# The names Figure.store() generates: figures/YYYY/MM/<uuid>-[<width>w-]<hash>.<ext>.
_FIGURE_PATH = re.compile(r"\d{4}/\d{2}/[0-9a-f]{32}-(?:\d{1,5}w-)?[0-9a-f]{16}\.(?:jpg|png|webp)")


@require_safe
def figure_file(request, path):
    """A stored figure image. Its name carries the content's hash, so a browser
    or proxy may keep it for good."""
    if not _FIGURE_PATH.fullmatch(path):
        raise Http404("No such figure.")
    storage = Figure._meta.get_field("image").storage
    try:
        handle = storage.open(f"figures/{path}", "rb")
    except OSError as exc:  # FileNotFoundError, or a storage backend's own error
        raise Http404("No such figure.") from exc
    response = FileResponse(handle, content_type=CONTENT_TYPES[path[path.rindex(".") :]])
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
