from django.conf import settings
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from django_filters.views import FilterView

from config.ratelimit import ratelimit
from qa.counting import is_countable
from resources.downloads import (
    RangeNotSatisfiable,
    RangeStream,
    ReleasingFile,
    TransferSlots,
    accel_redirect_uri,
    attachment_header,
    content_type_for,
    parse_range,
)
from resources.filters import ResourceFilter
from resources.models import Resource


class ResourceListView(FilterView):
    template_name = "resources/resource_list.html"
    context_object_name = "resources"
    filterset_class = ResourceFilter
    paginate_by = settings.ZHIKU_PAGE_SIZE
    strict = False  # a refused filter value narrows nothing rather than emptying the list

    def get_queryset(self):
        return Resource.objects.published()

    def get_context_data(self, **kwargs):
        types = Resource.objects.published().exclude(file_type="").order_by("file_type")
        return super().get_context_data(types=types.values_list("file_type", flat=True).distinct(), **kwargs)


@require_safe
def resource_detail(request, pk, slug=None):
    resource = get_object_or_404(Resource.objects.published().with_recommending_questions(), pk=pk)
    if slug != resource.slug:
        return HttpResponsePermanentRedirect(resource.get_absolute_url())
    questions = [link.question for link in resource.published_links]
    context = {"resource": resource, "questions": questions, "latest_resources": Resource.objects.newest()}
    return render(request, "resources/resource_detail.html", context)


@require_safe
@ratelimit("download")
def download(request, pk):
    """The file as an attachment, resumable with HTTP Range (SPEC §7).

    A GET by a person counts one download; HEAD, crawlers and resumed
    downloads (a range that does not start at the first byte) do not.
    """
    resource = get_object_or_404(Resource.objects.published(), pk=pk)
    storage = resource.file.storage
    if not resource.file.name or not storage.exists(resource.file.name):
        raise Http404("The file of this resource is missing.")
    size = resource.size

    byte_range = None
    if _range_applies(request, resource):
        try:
            byte_range = parse_range(request.headers.get("Range"), size)
        except RangeNotSatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return _with_file_headers(response, resource)

    # A transfer this thread would send itself needs a slot; refused ones are not counted.
    streams = request.method == "GET" and not (
        settings.ZHIKU_PRESIGNED_DOWNLOADS or settings.ZHIKU_ACCEL_REDIRECT
    )
    release = TRANSFERS.acquire(settings.ZHIKU_MAX_DOWNLOADS_PER_WORKER) if streams else None
    if streams and release is None:
        return _busy(request)
    try:
        if is_countable(request) and (byte_range is None or byte_range.start == 0):
            resource.increment_downloads()
        if request.method == "GET" and settings.ZHIKU_PRESIGNED_DOWNLOADS:
            return _presigned_redirect(resource)
        if request.method == "GET" and settings.ZHIKU_ACCEL_REDIRECT:
            return _accel_redirect(resource)
        response = _file_response(request, resource, byte_range, release)
    except BaseException:
        if release:
            release()
        raise
    if byte_range is not None:
        response.status_code = 206
        response["Content-Range"] = byte_range.content_range(size)
    return _with_file_headers(response, resource)


# Streamed transfers in flight in this process (ZHIKU_MAX_DOWNLOADS_PER_WORKER).
TRANSFERS = TransferSlots()
BUSY_RETRY_AFTER = 10


def _file_response(request, resource, byte_range, release):
    if request.method == "HEAD":
        response = HttpResponse()
        response["Content-Length"] = str(byte_range.length if byte_range else resource.size)
        return response
    # The slot is given back when the WSGI server closes the response: after
    # the last byte, or when the client goes away part way.
    fileobj = ReleasingFile(resource.file.storage.open(resource.file.name, "rb"), release)
    if byte_range is None:
        return FileResponse(fileobj)
    response = StreamingHttpResponse(RangeStream(fileobj, byte_range), status=206)
    response["Content-Length"] = str(byte_range.length)
    return response


def _accel_redirect(resource):
    """Headers from Django, bytes (and Range) from nginx's internal location."""
    response = HttpResponse()
    response["X-Accel-Redirect"] = accel_redirect_uri(settings.ZHIKU_ACCEL_REDIRECT, resource.file.name)
    response = _with_file_headers(response, resource)
    del response["Accept-Ranges"]  # nginx adds its own
    return response


def _presigned_redirect(resource):
    """S3: the bucket sends the file, with the headers Django chose, under a short-lived URL."""
    url = resource.file.storage.url(
        resource.file.name,
        parameters={
            "ResponseContentType": content_type_for(resource.file_type),
            "ResponseContentDisposition": attachment_header(resource.original_name or resource.file.name),
            "ResponseCacheControl": "private, no-transform",
        },
        expire=settings.ZHIKU_PRESIGNED_SECONDS,
    )
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    return response


def _busy(request):
    message = _("Too many downloads are running on this server. Please try again in %(seconds)d seconds.") % {
        "seconds": BUSY_RETRY_AFTER
    }
    if request.accepts("application/json") and not request.accepts("text/html"):
        response = JsonResponse({"error": message}, status=503, json_dumps_params={"ensure_ascii": False})
    else:
        response = render(request, "resources/download_busy.html", {"message": message}, status=503)
    response["Retry-After"] = str(BUSY_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def _range_applies(request, resource) -> bool:
    # If-Range: resume only if the client still has the same file, else send it whole.
    if_range = request.headers.get("If-Range")
    return if_range is None or if_range.strip() == _etag(resource)


def _etag(resource) -> str:
    return f'"{resource.sha256}"'


def _with_file_headers(response, resource):
    response["Content-Type"] = content_type_for(resource.file_type)
    response["Content-Disposition"] = attachment_header(resource.original_name or resource.file.name)
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    if resource.sha256:
        response["ETag"] = _etag(resource)
    # Even if a browser were talked into rendering the file, it gets no script and no origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-transform"
    return response
