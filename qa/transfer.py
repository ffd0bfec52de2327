"""The content format shared by import and export (docs/import-format.md), and its reader.

A content folder holds ``content.json`` plus the resource files under ``files/``.
``read_content`` checks such a file completely (structure, every field, every file)
without touching the database; qa/importing.py writes what it read, and
qa/exporting.py writes a folder out.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from qa.figures import EncodedFigure, encode_figure
from qa.models import Figure, Question, Tag
from resources.imaging import ImageToolError
from resources.models import Resource, file_type_of

CONTENT_FILE = "content.json"
FILES_DIR = "files"
# Counters are PositiveIntegerField; the largest value every database accepts.
MAX_COUNT = 2**31 - 1

QUESTION_FIELDS = {
    "key", "title", "question", "answer", "tags", "related", "resources", "views", "created", "published",
    "figures",
    "publish_at",
}  # fmt: skip
FIGURE_FIELDS = {"name", "file", "alt", "caption"}
RESOURCE_FIELDS = {"key", "title", "description", "file", "name", "downloads", "created", "published"}


class TransferError(Exception):
    """An import or export that cannot go ahead; ``problems`` lists every reason found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class FigureItem:
    name: str
    alt: str
    caption: str
    sha256: str  # of the file as given: equal to a stored figure's when it is that figure's export
    encoded: EncodedFigure


@dataclass
class QuestionItem:
    label: str
    key: str
    title: str
    answer: str
    body: str | None = None
    tags: list[str] | None = None
    related: list[str] | None = None
    resources: list[str] | None = None
    views: int | None = None
    created: datetime | None = None
    published: bool | None = None
    figures: list[FigureItem] | None = None
    publish_at: datetime | None = None


@dataclass
class ResourceItem:
    label: str
    key: str
    title: str
    source: Path | None
    name: str
    sha256: str
    description: str | None = None
    downloads: int | None = None
    created: datetime | None = None
    published: bool | None = None


@dataclass
class Content:
    questions: list[QuestionItem] = field(default_factory=list)
    resources: list[ResourceItem] = field(default_factory=list)
    # Synonym groups (qa.search.synonyms), each a list of terms; None when the file has none.
    synonyms: list[list[str]] | None = None


# --- Reading and checking ---------------------------------------------------------------------


_MISSING = object()


def _type_name(value: Any) -> str:
    names = {type(None): "null", bool: "true/false", int: "a number", float: "a number", str: "a string"}
    return names.get(type(value), "a list" if isinstance(value, list) else "an object")


class _Fields:
    """Typed access to one JSON object; each problem names the item and the field."""

    def __init__(self, data: dict, label: str, problems: list[str]):
        self.data, self.label, self.problems = data, label, problems

    def fail(self, name: str, message: str) -> None:
        self.problems.append(f'{self.label}, field "{name}": {message}')

    def _get(self, name: str, required: bool) -> Any:
        # An explicit null counts as leaving an optional field out.
        value = self.data.get(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return _MISSING
        return value

    def text(self, name: str, *, required: bool = False, max_length: int | None = None) -> str | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(name, f"must be a string, not {_type_name(value)}")
            return None
        if required and not value.strip():
            self.fail(name, "must not be empty")
        if "\0" in value:
            # PostgreSQL cannot store NUL in text; refuse it on every database alike.
            self.fail(name, "must not contain NUL characters (\\u0000)")
        if max_length and len(value) > max_length:
            self.fail(name, f"is longer than {max_length} characters")
        return value

    def count(self, name: str) -> int | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            self.fail(name, f"must be a whole number from 0 to {MAX_COUNT}")
            return None
        return value

    def flag(self, name: str) -> bool | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.fail(name, "must be true or false")
            return None
        return value

    def moment(self, name: str) -> datetime | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail(name, f"is not an ISO 8601 date and time: {json.dumps(value, ensure_ascii=False)}")
            return None
        # A time without an offset is read in the site's time zone.
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)

    def names(self, name: str, *, max_length: int, strip: bool = False) -> list[str] | None:
        """A list of distinct non-empty strings (keys or tag names), order kept.

        ``strip`` trims each entry, for names a person typed (tags), where
        "Python " must not become a second tag beside "python".
        """
        value = self._get(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.fail(name, f"must be a list, not {_type_name(value)}")
            return None
        seen, result = set(), []
        for entry in value:
            if strip and isinstance(entry, str):
                entry = entry.strip()
            if not isinstance(entry, str) or not entry.strip() or len(entry) > max_length:
                self.fail(name, f"entries must be non-empty strings of at most {max_length} characters")
                return None
            if "\0" in entry:
                self.fail(name, "entries must not contain NUL characters (\\u0000)")
                return None
            if entry.casefold() in seen:
                self.fail(name, f'lists "{entry}" twice')
                return None
            seen.add(entry.casefold())
            result.append(entry)
        return result

    def unknown(self, allowed: set[str]) -> None:
        for name in sorted(set(self.data) - allowed):
            self.fail(name, "is not a known field")


def _source_file(base: Path, relative: str, fields: _Fields) -> Path | None:
    """The file ``relative`` names inside ``base``, or None (with a problem) if it may not be read.

    Absolute paths, ``..`` and symlinks are refused so a content file can only ever
    bring in files that sit in its own folder.
    """
    parts = PurePosixPath(relative).parts
    if "\\" in relative or "\0" in relative or not parts:
        fields.fail("file", f"is not a usable relative path: {relative!r}")
        return None
    if PurePosixPath(relative).is_absolute() or Path(relative).is_absolute():
        fields.fail("file", f"must be relative to the JSON file's folder, not absolute: {relative}")
        return None
    if ".." in parts:
        fields.fail("file", f"must stay inside the JSON file's folder (no ..): {relative}")
        return None
    path = base
    for part in parts:
        path = path / part
        if path.is_symlink():
            fields.fail("file", f"must not go through a symbolic link: {relative}")
            return None
    if not path.is_file():
        problem = "is not a regular file" if path.exists() else "does not exist"
        fields.fail("file", f"{problem}: {relative}")
        return None
    return path


def is_plain_name(name: str) -> bool:
    """True for a bare file name: no folder part, nothing a path could be built from."""
    return bool(name) and name not in {".", ".."} and not ({"/", "\\", "\0"} & set(name))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(partial(fh.read, 1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _item_label(section: str, index: int, data: Any) -> str:
    key = data.get("key") if isinstance(data, dict) else None
    if isinstance(key, str) and key:
        return f'{section}[{index}] (key "{key}")'
    return f"{section}[{index}]"


def _read_resource(fields: _Fields, base: Path) -> ResourceItem:
    key_length = Resource._meta.get_field("key").max_length
    key = fields.text("key", required=True, max_length=key_length)
    title = fields.text("title", required=True, max_length=Resource._meta.get_field("title").max_length)
    relative = fields.text("file", required=True)
    source = _source_file(base, relative, fields) if relative else None
    name = fields.text("name", max_length=Resource._meta.get_field("original_name").max_length)
    if name is not None and not is_plain_name(name):
        fields.fail("name", f"must be a plain file name: {name!r}")
    # The same allowlist as an admin upload: an import must not bring in what
    # staff could not upload (an .html file served from the site, say).
    download_name = name or (source.name if source else "")
    file_type = file_type_of(download_name)
    if download_name and file_type not in settings.ZHIKU_UPLOAD_EXTENSIONS:
        fields.fail(
            "name" if name else "file",
            f"type “.{file_type}” is not in the upload allowlist (ZHIKU_UPLOAD_EXTENSIONS): {download_name}",
        )
    item = ResourceItem(
        label=fields.label,
        key=key,
        title=title,
        source=source,
        name=name or (source.name if source else ""),
        sha256=_sha256(source) if source else "",
        description=fields.text("description"),
        downloads=fields.count("downloads"),
        created=fields.moment("created"),
        published=fields.flag("published"),
    )
    fields.unknown(RESOURCE_FIELDS)
    return item


_FIGURE_NAME = re.compile(r"[-\w]+")


def _read_figures(fields: _Fields, base: Path) -> list[FigureItem] | None:
    """The question's figures; each image is checked and re-encoded here, so a
    bad one stops the import before anything is written."""
    entries = fields._get("figures", False)
    if entries is _MISSING:
        return None
    if not isinstance(entries, list):
        fields.fail("figures", f"must be a list, not {_type_name(entries)}")
        return None
    figures, names = [], set()
    name_length = Figure._meta.get_field("name").max_length
    for index, data in enumerate(entries):
        label = f'{fields.label}, field "figures"[{index}]'
        if not isinstance(data, dict):
            fields.problems.append(f"{label}: must be an object, not {_type_name(data)}")
            continue
        figure = _Fields(data, label, fields.problems)
        name = figure.text("name", required=True, max_length=name_length)
        if name and not _FIGURE_NAME.fullmatch(name):
            figure.fail("name", f"must be letters, digits, - and _ only (a slug): {name!r}")
        elif name and name in names:
            figure.fail("name", f'is used by another figure of this question: "{name}"')
        names.add(name)
        alt = figure.text("alt", required=True, max_length=Figure._meta.get_field("alt").max_length)
        caption = figure.text("caption", max_length=Figure._meta.get_field("caption").max_length)
        relative = figure.text("file", required=True)
        source = _source_file(base, relative, figure) if relative else None
        figure.unknown(FIGURE_FIELDS)
        encoded = None
        if source is not None:
            try:
                encoded = encode_figure(source.read_bytes())
            except ImageToolError as exc:
                figure.fail("file", f"is not an image the site can use ({relative}): {exc.message}")
        if name and alt and encoded is not None:
            figures.append(FigureItem(name, alt, caption or "", _sha256(source), encoded))
    return figures


def _read_question(fields: _Fields, base: Path) -> QuestionItem:
    key_length = Question._meta.get_field("key").max_length
    item = QuestionItem(
        label=fields.label,
        key=fields.text("key", required=True, max_length=key_length),
        title=fields.text("title", required=True, max_length=Question._meta.get_field("title").max_length),
        answer=fields.text("answer", required=True),
        body=fields.text("question"),
        tags=fields.names("tags", max_length=Tag._meta.get_field("name").max_length, strip=True),
        related=fields.names("related", max_length=key_length),
        resources=fields.names("resources", max_length=key_length),
        views=fields.count("views"),
        created=fields.moment("created"),
        published=fields.flag("published"),
        figures=_read_figures(fields, base),
        publish_at=fields.moment("publish_at"),
    )
    fields.unknown(QUESTION_FIELDS)
    if item.key and item.related and item.key in item.related:
        fields.fail("related", "must not list the question itself")
    return item


def _read_section(document: dict, section: str, problems: list[str]) -> list[tuple[int, dict]]:
    entries = document.get(section, [])
    if not isinstance(entries, list):
        problems.append(f'"{section}" must be a list, not {_type_name(entries)}')
        return []
    items = []
    for index, data in enumerate(entries):
        if isinstance(data, dict):
            items.append((index, data))
        else:
            problems.append(f"{section}[{index}]: must be an object, not {_type_name(data)}")
    return items


def _duplicate_keys(section: str, pairs: list[tuple[int, dict]], problems: list[str]) -> None:
    first_index: dict[str, int] = {}
    for index, data in pairs:
        key = data.get("key")
        if not isinstance(key, str):
            continue
        if key in first_index:
            problems.append(
                f'{_item_label(section, index, data)}, field "key": '
                f"already used by {section}[{first_index[key]}]"
            )
        else:
            first_index[key] = index


def read_content(path: Path) -> tuple[Content, list[str]]:
    """Parse and check a content file without touching the database.

    Returns the items that could be read and the list of problems found; an import
    only goes ahead when that list is empty.
    """
    problems: list[str] = []
    try:
        # utf-8-sig: editors on Windows start UTF-8 files with a byte order mark.
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        return Content(), [f"{path}: no such file"]
    except IsADirectoryError:
        return Content(), [f"{path}: is a folder, not a JSON file"]
    except UnicodeDecodeError as exc:
        return Content(), [f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
    except json.JSONDecodeError as exc:
        return Content(), [f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
    if not isinstance(document, dict):
        return Content(), [f'{path}: must hold an object with "questions" and "resources" lists']
    for name in sorted(set(document) - {"questions", "resources", "synonyms"}):
        problems.append(f'"{name}" is not a known section (expected "questions", "resources", "synonyms")')

    base = path.resolve().parent
    resource_pairs = _read_section(document, "resources", problems)
    question_pairs = _read_section(document, "questions", problems)
    _duplicate_keys("resources", resource_pairs, problems)
    _duplicate_keys("questions", question_pairs, problems)

    content = Content()
    for index, data in resource_pairs:
        fields = _Fields(data, _item_label("resources", index, data), problems)
        content.resources.append(_read_resource(fields, base))
    for index, data in question_pairs:
        fields = _Fields(data, _item_label("questions", index, data), problems)
        content.questions.append(_read_question(fields, base))
    if "synonyms" in document:
        content.synonyms = _read_synonyms(document["synonyms"], problems)
    return content, problems


def _read_synonyms(value, problems: list[str]) -> list[list[str]]:
    """``[["损失函数", "成本函数", "loss function"], ...]``: lists of two or more terms."""
    if not isinstance(value, list):
        problems.append('"synonyms": must be a list of lists of terms')
        return []
    groups = []
    for index, terms in enumerate(value):
        label = f"synonyms[{index}]"
        if not isinstance(terms, list) or not all(isinstance(term, str) for term in terms):
            problems.append(f"{label}: must be a list of strings")
            continue
        cleaned = list(dict.fromkeys(term.strip() for term in terms if term.strip()))
        if len(cleaned) < 2:
            problems.append(f"{label}: needs at least two different terms")
        elif any(len(term) > 100 for term in cleaned):
            problems.append(f"{label}: a term is longer than 100 characters")
        else:
            groups.append(cleaned)
    return groups
