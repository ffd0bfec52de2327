"""Upload validation for resources: allowlisted extension, size limit, and a
content check wherever the format has a recognisable signature."""

import zipfile
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from PIL import Image

from resources.models import Resource, file_type_of

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office documents and MSI installers
_MAGIC = {
    "pdf": (b"%PDF-",),
    "rar": (b"Rar!\x1a\x07",),
    "7z": (b"7z\xbc\xaf\x27\x1c",),
    "gz": (b"\x1f\x8b",),
    "tgz": (b"\x1f\x8b",),
    "bz2": (b"BZh",),
    "xz": (b"\xfd7zXZ\x00",),
    "exe": (b"MZ",),
    "msi": (_OLE,),
    "doc": (_OLE,),
    "xls": (_OLE,),
    "ppt": (_OLE,),
    "ttf": (b"\x00\x01\x00\x00", b"true"),
    "otf": (b"OTTO",),
    "woff": (b"wOFF",),
    "woff2": (b"wOF2",),
}
_ZIP_BASED = {"zip", "jar", "docx", "xlsx", "pptx"}
_IMAGES = {"png": {"PNG"}, "jpg": {"JPEG", "MPO"}, "jpeg": {"JPEG", "MPO"}, "gif": {"GIF"}, "webp": {"WEBP"}}


def content_matches_type(file, file_type: str) -> bool:
    """Whether the bytes of ``file`` look like a ``file_type`` file.

    Formats without a signature (text, source code, SVG) are accepted as they
    are: they are only ever served as attachments with a non-HTML type.
    """
    file.seek(0)
    try:
        if file_type in _ZIP_BASED:
            return zipfile.is_zipfile(file)
        if file_type in _IMAGES:
            try:
                with Image.open(file) as image:
                    image.verify()
                    return image.format in _IMAGES[file_type]
            except Exception:  # Pillow raises many kinds of error for non-images
                return False
        if file_type == "tar":
            return file.read(512)[257:262] == b"ustar"  # POSIX and GNU tar
        if file_type in _MAGIC:
            head = file.read(16)
            return any(head.startswith(magic) for magic in _MAGIC[file_type])
        return True
    finally:
        file.seek(0)


class ResourceAdminForm(forms.ModelForm):
    class Meta:
        model = Resource
        fields = ["title", "slug", "key", "description", "file", "is_published", "created"]

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if not isinstance(upload, UploadedFile):
            return upload  # unchanged: the stored file was checked when it came in
        name = PurePath(upload.name).name
        file_type = file_type_of(name)
        allowed = settings.ZHIKU_UPLOAD_EXTENSIONS
        if not file_type:
            raise forms.ValidationError(
                _("The file name has no extension, so its type is unknown. Allowed types: %(allowed)s.")
                % {"allowed": ", ".join(allowed)},
                code="extension",
            )
        if file_type not in allowed:
            raise forms.ValidationError(
                _("Files of type “.%(type)s” cannot be uploaded. Allowed types: %(allowed)s.")
                % {"type": file_type, "allowed": ", ".join(allowed)},
                code="extension",
            )
        limit = settings.ZHIKU_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size)s; the upload limit is %(limit)s.")
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
                code="size",
            )
        if not content_matches_type(upload, file_type):
            raise forms.ValidationError(
                _("The file's content is not a valid .%(type)s file; check that the extension is right.")
                % {"type": file_type},
                code="content",
            )
        return upload
