"""Media writes are all or nothing (config.storage), and a killed import's files
are removed by the next import (qa.importing)."""

import errno
import fcntl
import json

import pytest
from django.core.files.base import ContentFile, File

from config.storage import INCOMING, MediaStorage, sweep_incoming
from qa.importing import import_content, remove_abandoned_files
from resources.models import Resource

pytestmark = pytest.mark.django_db


class FailingFile(File):
    """Gives one chunk, then fails the way a full disk does."""

    def chunks(self, chunk_size=None):
        yield b"x" * 1000
        raise OSError(errno.ENOSPC, "No space left on device")


def files_in(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_failed_write_leaves_no_file(tmp_path):
    storage = MediaStorage(location=tmp_path)
    with pytest.raises(OSError) as raised:
        storage.save("resources/x.pdf", FailingFile(None, "x.pdf"))
    assert raised.value.errno == errno.ENOSPC
    assert files_in(tmp_path) == []


def test_a_complete_write_lands_under_its_name_only(tmp_path):
    storage = MediaStorage(location=tmp_path)
    name = storage.save("resources/知识.txt", ContentFile("内容".encode()))
    assert files_in(tmp_path) == [name]
    assert storage.open(name).read() == "内容".encode()


def test_sweep_removes_abandoned_incoming_files_but_not_ones_being_written(tmp_path):
    storage = MediaStorage(location=tmp_path)
    incoming = tmp_path / INCOMING
    incoming.mkdir()
    (incoming / "upload-abandoned").write_bytes(b"half")
    with open(incoming / "upload-busy", "wb") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)
        assert sweep_incoming(storage) == 1
        assert files_in(tmp_path) == [f"{INCOMING}/upload-busy"]


def write_content(folder, keys):
    (folder / "files").mkdir(parents=True, exist_ok=True)
    resources = []
    for key in keys:
        (folder / "files" / f"{key}.txt").write_text(f"文件 {key}")
        resources.append({"key": key, "title": f"资源 {key}", "file": f"files/{key}.txt"})
    path = folder / "content.json"
    path.write_text(json.dumps({"questions": [], "resources": resources}, ensure_ascii=False))
    return path


def test_the_next_import_removes_files_a_killed_import_stored(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    import_content(path=write_content(tmp_path / "a", ["kept"]))
    kept = Resource.objects.get(key="kept").file.name
    storage = Resource._meta.get_field("file").storage
    stray = storage.save("resources/2026/01/stray.txt", ContentFile(b"never committed"))
    # What a killed import leaves: its journal, unlocked, naming a stored and a committed file.
    (settings.MEDIA_ROOT / INCOMING / "import-dead.journal").write_text(f"{stray}\n{kept}\n")
    assert remove_abandoned_files() == 1
    assert files_in(settings.MEDIA_ROOT) == [kept]
    import_content(path=write_content(tmp_path / "b", ["next"]))
    assert len(files_in(settings.MEDIA_ROOT)) == 2
