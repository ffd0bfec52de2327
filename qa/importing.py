"""Importing a content file (docs/import-format.md), all or nothing.

Nothing is written until the whole file has been checked (qa/transfer.py reads it,
the references are checked here inside the transaction). Rows are then saved through
the models' ``save()`` and M2M ``set()`` so derived data (rendered HTML, search index,
caches) follows. Files go through the storage API, so remote storage works too; files
stored by an import that fails are deleted again. An import killed before it
commits cannot delete its files, so each import names them in a journal first
(``_Journal``) and the next import removes those no row refers to.
"""

import contextlib
import fcntl
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import reversion
from django.conf import settings
from django.core.files import File
from django.db import transaction

from config.storage import INCOMING, announcing, sweep_incoming
from qa.models import Figure, Question, RelatedQuestion, Tag, unicode_slug
from qa.search import meaning, synonyms
from qa.transfer import CONTENT_FILE, Content, QuestionItem, ResourceItem, TransferError, read_content
from resources.models import Recommendation, Resource, file_type_of


@dataclass
class ImportSummary:
    questions_created: int = 0
    questions_updated: int = 0
    resources_created: int = 0
    resources_updated: int = 0
    files_stored: int = 0
    synonym_groups_created: int = 0

    def __str__(self):
        text = (
            f"questions: {self.questions_created} created, {self.questions_updated} updated; "
            f"resources: {self.resources_created} created, {self.resources_updated} updated; "
            f"files stored: {self.files_stored}"
        )
        if self.synonym_groups_created:
            text += f"; synonym groups: {self.synonym_groups_created} created"
        return text


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


def _set_given(obj, **values) -> None:
    """Set the fields the file gave; a field left out (None) keeps its stored value."""
    for field, value in values.items():
        if value is not None:
            setattr(obj, field, value)


def _save_resource(item: ResourceItem, resource: Resource | None, stored: list[str]) -> Resource:
    """Create or update one resource; names of newly stored files are added to ``stored``."""
    resource = resource or Resource(key=item.key)
    resource.title = item.title
    _set_given(
        resource,
        description=item.description,
        downloads=item.downloads,
        created=item.created,
        is_published=item.published,
    )

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
        try:
            resource.save()
        except OSError as exc:  # the disk full, the storage unreachable
            problem = f'{item.label}, field "file": could not be stored: {exc.strerror or exc}'
            raise TransferError([problem]) from exc
    stored.append(resource.file.name)
    return resource


def _save_question(item: QuestionItem, question: Question | None) -> Question:
    question = question or Question(key=item.key)
    if question.title != item.title:
        question.slug = unicode_slug(item.title)
    question.title = item.title
    question.answer = item.answer
    _set_given(question, body=item.body, views=item.views, created=item.created, is_published=item.published)
    _set_given(question, publish_at=item.publish_at)
    question.save()
    if item.tags is not None:
        question.tags.set(_tags_named(item.tags))
    return question


def _save_figures(item: QuestionItem, question: Question, stored: list[str]) -> None:
    """Make the question's figures those of the file; an unchanged image keeps its stored files."""
    if item.figures is None:
        return
    existing = {figure.name: figure for figure in Figure.objects.filter(question=question)}
    for entry in item.figures:
        figure = existing.pop(entry.name, None) or Figure(question=question, name=entry.name)
        figure.alt, figure.caption = entry.alt, entry.caption
        # An exported figure comes back as the stored file itself: nothing to re-encode.
        if figure.sha256 != entry.sha256 or not figure.image.storage.exists(figure.image.name):
            stored += figure.store(entry.encoded)
        figure.save()
    for figure in existing.values():
        figure.delete()


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

    questions = Question.objects.in_bulk(
        {item.key for item in content.questions}
        | {key for item in content.questions for key in item.related or ()},
        field_name="key",
    )
    for item in content.questions:
        existing = questions.get(item.key)
        questions[item.key] = _save_question(item, existing)
        _save_figures(item, questions[item.key], stored)
        if existing is None:
            summary.questions_created += 1
        else:
            summary.questions_updated += 1
    # Links last: a question may point at one that comes later in the file.
    for item in content.questions:
        _link(item, questions, resources)
    if content.synonyms:
        summary.synonym_groups_created = synonyms.add_groups(content.synonyms)
    summary.files_stored = len(stored)
    return summary


class _Journal:
    """The names of the files one import stores, written down before each file is.

    The journal is locked while its import runs; one nobody holds a lock on
    belongs to an import that ended without removing it (killed), and
    ``remove_abandoned_files`` deletes the files it names that no row refers to.
    """

    def __init__(self):
        self.directory = Path(settings.MEDIA_ROOT) / INCOMING
        self.path = self.directory / f"import-{uuid.uuid4().hex}.journal"

    def __enter__(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def record(self, name: str) -> None:
        self.file.write(name + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)
        self.file.close()


def remove_abandoned_files() -> int:
    """Delete the files of imports killed before they committed; returns how many."""
    storage = Resource._meta.get_field("file").storage
    removed = sweep_incoming(storage)
    for journal in (Path(settings.MEDIA_ROOT) / INCOMING).glob("import-*.journal"):
        with contextlib.suppress(FileNotFoundError), open(journal, encoding="utf-8") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # an import still running
            names = {line.strip() for line in fh if line.strip()}
            kept = set(Resource.objects.filter(file__in=names).values_list("file", flat=True))
            for name in names - kept:
                if storage.exists(name):
                    storage.delete(name)
                    removed += 1
            journal.unlink()
    return removed


def import_content(*, path: Path, dry_run: bool = False, defer_embeddings: bool = False) -> ImportSummary:
    """Import a content file, all or nothing.

    Raises TransferError listing every problem (item and field) when anything is
    wrong; in that case no row is written and no file is left in storage.
    ``dry_run`` checks everything and writes nothing. The imported questions
    are embedded for search by meaning before this returns, unless
    ``defer_embeddings`` leaves that to ``manage.py embed_questions``.
    """
    if defer_embeddings:
        with meaning.deferred():
            return import_content(path=path, dry_run=dry_run)
    if path.is_dir():
        path = path / CONTENT_FILE
    content, problems = read_content(path)
    if not dry_run:
        remove_abandoned_files()
    stored: list[str] = []
    with _Journal() as journal:
        try:
            with announcing(journal.record), transaction.atomic():
                # Checked inside the transaction so the keys cannot vanish before the writes.
                problems += _reference_problems(content)
                if problems:
                    raise TransferError(problems)
                if dry_run:
                    return ImportSummary()
                # One revision for the whole file: every question and resource it
                # changes gets a version whose author is the file (qa.history).
                with reversion.create_revision(atomic=False):
                    reversion.set_comment(f"import: {path.name}")
                    return _write(content, stored)
        except BaseException:
            # Resources and figures both live in the default storage.
            storage = Resource._meta.get_field("file").storage
            for name in stored:
                storage.delete(name)
            raise
