"""HTTP details of serving a stored file: byte ranges, names, content types.

Pure code (no Django imports): the download view in ``resources.views`` parses
the request with these helpers, streams the bytes they describe (at most a set
number of transfers at once per process) or hands the file to nginx.
"""

import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote

CHUNK_SIZE = 64 * 1024

# Served as what they are; anything else is an opaque download. Text formats
# are plain text on purpose: a user file must never be sent as HTML.
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "zip": "application/zip",
    "rar": "application/vnd.rar",
    "7z": "application/x-7z-compressed",
    "gz": "application/gzip",
    "tgz": "application/gzip",
    "tar": "application/x-tar",
    "bz2": "application/x-bzip2",
    "xz": "application/x-xz",
    "jar": "application/java-archive",
    "exe": "application/vnd.microsoft.portable-executable",
    "msi": "application/x-msi",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "md": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "py": "text/plain; charset=utf-8",
    "java": "text/plain; charset=utf-8",
    "jsp": "text/plain; charset=utf-8",
}
FALLBACK_CONTENT_TYPE = "application/octet-stream"


def content_type_for(file_type: str) -> str:
    return CONTENT_TYPES.get(file_type.lower(), FALLBACK_CONTENT_TYPE)


class RangeNotSatisfiable(Exception):
    """The Range header is well formed but asks for bytes the file does not have."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range a ``Range`` header asks for, or None to send the whole file.

    Headers we do not understand (other units, several ranges, bad syntax) are
    ignored, which RFC 9110 allows: the client simply gets the full file.
    Raises RangeNotSatisfiable when the range lies outside the file.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if not match:
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            return None  # syntactically invalid: ignore, per RFC 9110 §14.1.1
        if start >= size:
            raise RangeNotSatisfiable
        return ByteRange(start, min(end, size - 1))
    if last:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    return None


class RangeStream:
    """The bytes of one range of a file, as a response body.

    Closing it closes the file even when it was never iterated (a client that
    disconnects before the first chunk), which a generator's ``finally`` would not.
    """

    def __init__(self, fileobj: BinaryIO, byte_range: ByteRange, chunk_size: int = CHUNK_SIZE):
        self.fileobj = fileobj
        self.byte_range = byte_range
        self.chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        try:
            self.fileobj.seek(self.byte_range.start)
            remaining = self.byte_range.length
            while remaining > 0:
                chunk = self.fileobj.read(min(self.chunk_size, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.fileobj.close()


class TransferSlots:
    """How many file transfers this process is sending right now, with a ceiling.

    A download streamed by a worker thread holds that thread for as long as the
    client takes to read it; a few slow clients could otherwise occupy every
    thread and stall all pages. ``acquire`` hands out a release function, or
    None when the ceiling is reached; releasing twice is harmless.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.active = 0

    def acquire(self, limit: int) -> Callable[[], None] | None:
        with self._lock:
            if self.active >= limit:
                return None
            self.active += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self.active -= 1

        return release


class ReleasingFile:
    """A file object that also runs ``on_close`` once when it is closed.

    Everything else is the wrapped file's, ``fileno`` included, so a WSGI server
    can still send it with sendfile.
    """

    def __init__(self, fileobj: BinaryIO, on_close: Callable[[], None]):
        self._file = fileobj
        self._on_close = on_close

    def __getattr__(self, name):
        return getattr(self._file, name)

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._on_close()


def accel_redirect_uri(prefix: str, name: str) -> str:
    """The internal nginx URI that serves stored file ``name`` (X-Accel-Redirect)."""
    return prefix + quote(name.lstrip("/"), safe="/")


_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f/\\"]')
# RFC 5987 attr-char, minus nothing: everything else is percent-encoded.
_ATTR_CHARS = "!#$&+-.^_`|~"


def safe_filename(name: str) -> str:
    """A file name without path separators, quotes or control characters."""
    cleaned = _UNSAFE_NAME_CHARS.sub("_", name).strip(" .")
    return cleaned or "download"


def _ascii_part(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9._()\[\] -]+", "_", ascii_text).strip(" ._-")


def ascii_fallback(name: str) -> str:
    """An ASCII stand-in for clients that ignore ``filename*``; keeps the extension."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem, ext = _ascii_part(stem), _ascii_part(ext)
    # Only punctuation left (full-width brackets become "()") says nothing: use a plain word.
    if not re.search(r"[A-Za-z0-9]", stem):
        stem = "download"
    return f"{stem}.{ext}" if ext else stem


def attachment_header(name: str) -> str:
    """``Content-Disposition`` for a download: an ASCII fallback plus the exact
    UTF-8 name (RFC 6266 / RFC 5987), so Chinese names survive."""
    name = safe_filename(name)
    encoded = quote(name, safe=_ATTR_CHARS)
    return f"attachment; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"
