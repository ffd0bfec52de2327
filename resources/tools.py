"""The image inversion tool's page (SPEC §8) and what it shares with the API (resources.api).

Both run :func:`resources.imaging.invert_image`. The request size is
checked from ``Content-Length`` before a byte of the body is read, and the
upload is kept in memory by our own upload handler, so an oversized POST is
refused at once and nothing is ever written to disk.
"""

import base64

from csp.decorators import csp_update
from django import forms
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from config.ratelimit import hit
from resources import imaging

# Room for the multipart boundaries, part headers, the mode and the CSRF token.
MULTIPART_OVERHEAD = 64 * 1024
MAX_REQUEST_BYTES = imaging.MAX_BYTES + MULTIPART_OVERHEAD

# Formats a browser shows in <img>, for the no-JavaScript preview of both pictures.
PREVIEW_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "ICO": "image/x-icon",
    "AVIF": "image/avif",
}


class InMemoryUploadHandler(MemoryFileUploadHandler):
    """Hold the upload in memory whatever FILE_UPLOAD_MAX_MEMORY_SIZE says.

    Only installed after the request's length has been checked, so memory use is bounded.
    """

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.activated = True


class InvertForm(forms.Form):
    image = forms.FileField(
        label=gettext_lazy("Image"),
        allow_empty_file=True,  # the imaging code gives the clearer message
        error_messages={"required": gettext_lazy("Choose an image to upload (form field “image”).")},
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("Inversion"),
        choices=[
            ("gray", gettext_lazy("Grayscale: 255 − luma")),
            ("color", gettext_lazy("Colour: every channel")),
        ],
        initial="gray",
        required=False,
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": gettext_lazy("Unknown mode “%(value)s”: choose “gray” or “color”."),
        },
    )


class RefusedUpload(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


def run_tool(request) -> tuple[InvertForm, imaging.InvertedImage, bytes]:
    """Validate the POSTed form and invert its image; raise RefusedUpload with a status otherwise."""
    try:
        form = InvertForm(request.POST, request.FILES)
        valid = form.is_valid()
    except RequestDataTooBig as exc:
        raise RefusedUpload(_("The upload is larger than 10 MiB."), 413) from exc
    except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent) as exc:
        raise RefusedUpload(_("The upload could not be read as a form (multipart/form-data)."), 400) from exc
    if not valid:
        message = " ".join(str(error) for errors in form.errors.values() for error in errors)
        raise RefusedUpload(message, 400)

    upload = form.cleaned_data["image"]
    if upload.size > imaging.MAX_BYTES:
        raise RefusedUpload(_("The upload is larger than 10 MiB."), 413)
    original = upload.read()
    try:
        result = imaging.invert_image(original, form.cleaned_data["mode"] or "gray", filename=upload.name)
    except imaging.ImageToolError as exc:
        raise RefusedUpload(exc.translated(_), exc.status) from exc
    return form, result, original


def check_request_size(request) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0  # Django reads no body at all then
    if length > MAX_REQUEST_BYTES:
        raise RefusedUpload(_("The upload is larger than 10 MiB."), 413)
    request.upload_handlers = [InMemoryUploadHandler(request)]


@csrf_exempt  # CSRF is checked by _invert_page, after the upload handlers are set
@never_cache
# The page shows the original and the result as data: URLs, and its script as blob: URLs.
@csp_update({"img-src": ["data:", "blob:"]})
def invert_page(request):
    """The tool's page: the form, and after a POST the result beside the original."""
    if request.method == "POST":
        retry_after = hit(request, "invert")
        if retry_after is not None:
            message = _("Too many requests. Please wait %(seconds)d seconds and try again.") % {
                "seconds": retry_after
            }
            response = _render_page(request, InvertForm(), error=message, status=429)
            response["Retry-After"] = str(retry_after)
            return response
        try:
            check_request_size(request)
        except RefusedUpload as exc:
            return _render_page(request, InvertForm(), error=exc.message, status=exc.status)
    return _invert_page(request)


@csrf_protect
def _invert_page(request):
    if request.method != "POST":
        return _render_page(request, InvertForm())
    try:
        form, result, original = run_tool(request)
    except RefusedUpload as exc:
        return _render_page(
            request,
            InvertForm(initial={"mode": request.POST.get("mode") or "gray"}),
            error=exc.message,
            status=exc.status,
        )
    context = {
        "result": result,
        "result_url": _data_url(result.data, result.content_type),
        "result_preview": result.format in PREVIEW_TYPES,
        "original_url": (
            _data_url(original, PREVIEW_TYPES[result.source_format])
            if result.source_format in PREVIEW_TYPES
            else None
        ),
    }
    return _render_page(request, InvertForm(initial={"mode": form.cleaned_data["mode"] or "gray"}), **context)


def _render_page(request, form, *, error=None, status=200, **context):
    return render(request, "resources/invert.html", {"form": form, "error": error, **context}, status=status)


def _data_url(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
