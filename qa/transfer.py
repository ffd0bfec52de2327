"""Import and export of questions and resources as JSON plus files (docs/import-format.md).

An import is checked completely before anything is written: the JSON structure, every
field, every referenced key and every file. Only then are rows saved, in one transaction,
through the models' ``save()`` and M2M ``set()`` so derived data (rendered HTML, search
index, caches) follows. Files go through the storage API, so remote storage works too;
files stored by an import that fails are deleted again.
"""

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from django.core.files import File
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from qa.models import Question, RelatedQuestion, Tag, unicode_slug
from resources.models import Recommendation, Resource, file_type_of

CONTENT_FILE = "content.json"
FILES_DIR = "files"
# Counters are PositiveIntegerField; the largest value every database accepts.
MAX_COUNT = 2**31 - 1

QUESTION_FIELDS = {
    "key", "title", "question", "answer", "tags", "related", "resources", "views", "created", "published",
}  # fmt: skip
RESOURCE_FIELDS = {"key", "title", "description", "file", "name", "downloads", "created", "published"}


class TransferError(Exception):
    """An import or export that cannot go ahead; ``problems`` lists every reason found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


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


@dataclass
class ImportSummary:
    questions_created: int = 0
    questions_updated: int = 0
    resources_created: int = 0
    resources_updated: int = 0
    files_stored: int = 0

    def __str__(self):
        return (
            f"questions: {self.questions_created} created, {self.questions_updated} updated; "
            f"resources: {self.resources_created} created, {self.resources_updated} updated; "
            f"files stored: {self.files_stored}"
        )


@dataclass
class ExportSummary:
    questions: int
    resources: int
    path: Path


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

    def names(self, name: str, *, max_length: int) -> list[str] | None:
        """A list of distinct non-empty strings (keys or tag names), order kept."""
        value = self._get(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.fail(name, f"must be a list, not {_type_name(value)}")
            return None
        seen, result = set(), []
        for entry in value:
            if not isinstance(entry, str) or not entry.strip() or len(entry) > max_length:
                self.fail(name, f"entries must be non-empty strings of at most {max_length} characters")
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


def _plain_name(name: str) -> bool:
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
    if name is not None and not _plain_name(name):
        fields.fail("name", f"must be a plain file name: {name!r}")
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


def _read_question(fields: _Fields) -> QuestionItem:
    key_length = Question._meta.get_field("key").max_length
    item = QuestionItem(
        label=fields.label,
        key=fields.text("key", required=True, max_length=key_length),
        title=fields.text("title", required=True, max_length=Question._meta.get_field("title").max_length),
        answer=fields.text("answer", required=True),
        body=fields.text("question"),
        tags=fields.names("tags", max_length=Tag._meta.get_field("name").max_length),
        related=fields.names("related", max_length=key_length),
        resources=fields.names("resources", max_length=key_length),
        views=fields.count("views"),
        created=fields.moment("created"),
        published=fields.flag("published"),
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
        document = json.loads(path.read_bytes().decode("utf-8"))
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
    for name in sorted(set(document) - {"questions", "resources"}):
        problems.append(f'"{name}" is not a known section (expected "questions" and "resources")')

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
        content.questions.append(_read_question(fields))
    return content, problems


def _reference_problems(content: Content) -> list[str]:
    """Related and resource keys must name an item of the file or a row already stored."""
    problems = []
    question_refs = {key for item in content.questions for key in item.related or ()}
    resource_refs = {key for item in content.questions for key in item.resources or ()}
    known_questions = {item.key for item in content.questions} | set(
        Question.objects.filter(key__in=question_refs).values_list("key", flat=True)
    )
    known_resources = {item.key for item in content.resources} | set(
        Resource.objects.filter(key__in=resource_refs).values_list("key", flat=True)
    )
    for item in content.questions:
        for name, refs, known in (
            ("related", item.related, known_questions),
            ("resources", item.resources, known_resources),
        ):
            for key in refs or ():
                if key not in known:
                    problems.append(f'{item.label}, field "{name}": unknown key "{key}"')
    return problems


# --- Writing ------------------------------------------------------------------------------------


def _tags_named(names: list[str]) -> list[Tag]:
    """Existing tags matched case-insensitively; new ones get a slug no other tag has."""
    tags = []
    for name in names:
        tag = Tag.objects.filter(name__iexact=name).order_by("pk").first()
        if tag is None:
            base = unicode_slug(name, 55)
            slug, n = base, 2
            while Tag.objects.filter(slug=slug).exists():
                slug, n = f"{base}-{n}", n + 1
            tag = Tag(name=name, slug=slug)
            tag.save()
        tags.append(tag)
    return tags


def _save_resource(item: ResourceItem, resource: Resource | None, stored: list[str]) -> Resource:
    """Create or update one resource; names of newly stored files are added to ``stored``."""
    resource = resource or Resource(key=item.key)
    resource.title = item.title
    if item.description is not None:
        resource.description = item.description
    if item.downloads is not None:
        resource.downloads = item.downloads
    if item.created is not None:
        resource.created = item.created
    if item.published is not None:
        resource.is_published = item.published

    old_name = resource.file.name if resource.pk else ""
    if old_name and resource.sha256 == item.sha256 and resource.file.storage.exists(old_name):
        resource.original_name = item.name
        resource.file_type = file_type_of(item.name)
        resource.save()
        return resource
    with item.source.open("rb") as fh:
        # The model's save() records name, type, size and hash, lets storage pick the
        # stored name and deletes a replaced file once the transaction commits.
        resource.file = File(fh, name=item.name)
        resource.save()
    stored.append(resource.file.name)
    return resource


def _save_question(item: QuestionItem, question: Question | None) -> Question:
    question = question or Question(key=item.key)
    if question.title != item.title:
        question.slug = unicode_slug(item.title)
    question.title = item.title
    question.answer = item.answer
    if item.body is not None:
        question.body = item.body
    if item.views is not None:
        question.views = item.views
    if item.created is not None:
        question.created = item.created
    if item.published is not None:
        question.is_published = item.published
    question.save()
    if item.tags is not None:
        question.tags.set(_tags_named(item.tags))
    return question


def _link(item: QuestionItem, questions: dict[str, Question], resources: dict[str, Resource]) -> None:
    question = questions[item.key]
    if item.related is not None:
        RelatedQuestion.objects.filter(from_question=question).delete()
        for position, key in enumerate(item.related):
            RelatedQuestion(from_question=question, to_question=questions[key], position=position).save()
    if item.resources is not None:
        Recommendation.objects.filter(question=question).delete()
        for position, key in enumerate(item.resources):
            Recommendation(question=question, resource=resources[key], position=position).save()


def _write(content: Content, stored: list[str]) -> ImportSummary:
    summary = ImportSummary()
    resources = Resource.objects.in_bulk(
        {item.key for item in content.resources}
        | {key for item in content.questions for key in item.resources or ()},
        field_name="key",
    )
    for item in content.resources:
        existing = resources.get(item.key)
        resources[item.key] = _save_resource(item, existing, stored)
        if existing is None:
            summary.resources_created += 1
        else:
            summary.resources_updated += 1
    summary.files_stored = len(stored)

    questions = Question.objects.in_bulk(
        {item.key for item in content.questions}
        | {key for item in content.questions for key in item.related or ()},
        field_name="key",
    )
    for item in content.questions:
        existing = questions.get(item.key)
        questions[item.key] = _save_question(item, existing)
        if existing is None:
            summary.questions_created += 1
        else:
            summary.questions_updated += 1
    # Links last: a question may point at one that comes later in the file.
    for item in content.questions:
        _link(item, questions, resources)
    return summary


def import_content(*, path: Path, dry_run: bool = False) -> ImportSummary:
    """Import a content file, all or nothing.

    Raises TransferError listing every problem (item and field) when anything is
    wrong; in that case no row is written and no file is left in storage.
    ``dry_run`` checks everything and writes nothing.
    """
    if path.is_dir():
        path = path / CONTENT_FILE
    content, problems = read_content(path)
    stored: list[str] = []
    try:
        with transaction.atomic():
            # Checked inside the transaction so the keys cannot vanish before the writes.
            problems += _reference_problems(content)
            if problems:
                raise TransferError(problems)
            if dry_run:
                return ImportSummary()
            return _write(content, stored)
    except BaseException:
        storage = Resource._meta.get_field("file").storage
        for name in stored:
            storage.delete(name)
        raise


# --- Export -------------------------------------------------------------------------------------


def _local_iso(moment: datetime) -> str:
    return timezone.localtime(moment).isoformat()


def _export_keys(rows, prefix: str) -> dict[int, str]:
    """Each row's key; rows without one get ``<prefix><id>``, kept clear of real keys."""
    taken = {row.key for row in rows if row.key}
    keys = {}
    for row in rows:
        key = row.key
        if not key:
            key, n = f"{prefix}{row.pk}", 2
            while key in taken:
                key, n = f"{prefix}{row.pk}-{n}", n + 1
            taken.add(key)
        keys[row.pk] = key
    return keys


def _export_name(resource: Resource, key: str, used: set[str]) -> str:
    """A file name for the export folder: the original name, made unique and safe."""
    name = resource.original_name or PurePosixPath(resource.file.name).name
    if not _plain_name(name):
        name = f"{key}{PurePosixPath(resource.file.name).suffix}"
    stem, suffix = os.path.splitext(name)
    candidate, n = name, 2
    # Case-insensitive, because exports are often unpacked on such file systems.
    while candidate.casefold() in used:
        candidate, n = f"{stem}-{n}{suffix}", n + 1
    used.add(candidate.casefold())
    return candidate


def _copy_out(resource: Resource, destination: Path) -> None:
    with resource.file.open("rb") as source, destination.open("wb") as out:
        for chunk in source.chunks():
            out.write(chunk)


def export_content(*, directory: Path) -> ExportSummary:
    """Write every question and resource to ``directory``/content.json plus ``files/``.

    The folder must be new or empty, so an export never mixes with older files.
    """
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise TransferError([f"{directory}: must be a new or empty folder"])
    resources = list(Resource.objects.order_by("pk"))
    questions = list(
        Question.objects.order_by("pk").prefetch_related(
            "tags",
            Prefetch("related_links", queryset=RelatedQuestion.objects.order_by("position", "pk")),
            Prefetch("recommendations", queryset=Recommendation.objects.order_by("position", "pk")),
        )
    )
    resource_keys = _export_keys(resources, "r")
    question_keys = _export_keys(questions, "q")

    missing = [
        f'resource {resource_keys[r.pk]} ("{r.title}"): its file {r.file.name!r} is not in storage'
        for r in resources
        if not r.file or not r.file.storage.exists(r.file.name)
    ]
    if missing:
        raise TransferError(missing)

    files_dir = directory / FILES_DIR
    files_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    resource_data = []
    for resource in resources:
        key = resource_keys[resource.pk]
        name = _export_name(resource, key, used)
        _copy_out(resource, files_dir / name)
        entry = {
            "key": key,
            "title": resource.title,
            "description": resource.description,
            "file": f"{FILES_DIR}/{name}",
            "created": _local_iso(resource.created),
            "downloads": resource.downloads,
            "published": resource.is_published,
        }
        if resource.original_name and resource.original_name != name:
            entry["name"] = resource.original_name
        resource_data.append(entry)

    question_data = [
        {
            "key": question_keys[question.pk],
            "title": question.title,
            "question": question.body,
            "answer": question.answer,
            "tags": [tag.name for tag in question.tags.all()],
            "created": _local_iso(question.created),
            "views": question.views,
            "published": question.is_published,
            "related": [question_keys[link.to_question_id] for link in question.related_links.all()],
            "resources": [resource_keys[rec.resource_id] for rec in question.recommendations.all()],
        }
        for question in questions
    ]
    document = {"questions": question_data, "resources": resource_data}
    (directory / CONTENT_FILE).write_text(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return ExportSummary(questions=len(questions), resources=len(resources), path=directory / CONTENT_FILE)
