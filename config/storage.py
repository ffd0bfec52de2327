"""Media files on local disk, written all or nothing.

Django's FileSystemStorage writes straight to the final name, so a write that
fails half way (the disk full) or a process killed mid-write leaves a partial
file that looks like a real one. Here every file is first written complete
under ``MEDIA_ROOT/.incoming/`` (same file system) and then renamed into place.
A failed write removes its incoming file; one whose writer was killed is
removed by ``sweep_incoming`` (run by each import): the writer holds a lock on
it while it writes, so a file nobody holds a lock on was abandoned.
"""

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

from django.core.files import File
from django.core.files.storage import FileSystemStorage

INCOMING = ".incoming"

# Set by a writer that must know a name before a file appears under it (an import's journal).
_announce: ContextVar[Callable[[str], None] | None] = ContextVar("media_announce", default=None)


@contextlib.contextmanager
def announcing(callback: Callable[[str], None]):
    """Call ``callback(name)`` before each file is renamed to ``name`` in this context."""
    token = _announce.set(callback)
    try:
        yield
    finally:
        _announce.reset(token)


class _Complete(File):
    """A fully written file in .incoming, which FileSystemStorage moves by renaming."""

    def temporary_file_path(self):
        return self.name


class MediaStorage(FileSystemStorage):
    def incoming_dir(self) -> Path:
        return Path(self.location) / INCOMING

    def _save(self, name, content):
        incoming = self.incoming_dir()
        incoming.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=incoming, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                if hasattr(content, "temporary_file_path"):
                    with open(content.temporary_file_path(), "rb") as source:
                        shutil.copyfileobj(source, fh, 1024 * 1024)
                else:
                    for chunk in content.chunks():
                        fh.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                fh.flush()
                os.fsync(fh.fileno())
                if announce := _announce.get():
                    announce(name)
                # Renamed while still locked, so a sweep never takes it for abandoned.
                return super()._save(name, _Complete(None, temp))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)


def sweep_incoming(storage) -> int:
    """Remove files in .incoming that no live process is writing; returns how many."""
    if not isinstance(storage, MediaStorage) or not storage.incoming_dir().is_dir():
        return 0
    removed = 0
    for path in storage.incoming_dir().glob("upload-*"):
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below, after the lock test
        except FileNotFoundError:
            continue  # renamed into place meanwhile
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being written
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed
