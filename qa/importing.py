"""Importing a content file (docs/import-format.md), all or nothing.

Nothing is written until the whole file has been checked (qa/transfer.py reads it,
the references are checked here inside the transaction). Questions and their links
are then written in bulk by ``qa.bulk``, which leaves the same rows, search entries,
history and caches as a save of each; resources and figures, which carry files, are
saved one by one through their models. Files go through the storage API, so remote
storage works too; files stored by an import that fails are deleted again. An import killed before it
commits cannot delete its files, so each import names them in a journal first
(``_Journal``) and the next import removes those no row refers to.
"""

import contextlib
import fcntl
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from config.storage import INCOMING, announcing, sweep_incoming
from qa import bulk, freshness
from qa.bulk import set_given
from qa.history import BulkRecorder
from qa.models import Figure, Question
from qa.search import meaning, synonyms
from qa.transfer import CONTENT_FILE, Content, QuestionItem, ResourceItem, TransferError, read_content
from resources.models import Resource, file_type_of

# An import of this many questions leaves their embeddings to ``embed_questions``
# (about 0.3 s of CPU each: a thousand would hold the import for minutes).
BULK_EMBEDDINGS = 1000


@dataclass
class ImportSummary:
    questions_created: int = 0
    questions_updated: int = 0
    resources_created: int = 0
    resources_updated: int = 0
    files_stored: int = 0
    synonym_groups_created: int = 0
    embeddings_deferred: int = 0

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


def _save_resource(item: ResourceItem, resource: Resource | None, stored: list[str]) -> Resource:
    """Create or update one resource; names of newly stored files are added to ``stored``."""
    resource = resource or Resource(key=item.key)
    resource.title = item.title
    set_given(
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


def _write_resources(
    content: Content, stored: list[str], summary: ImportSummary, history: BulkRecorder
) -> dict[str, Resource]:
    """Save the file's resources; returns them and those its questions recommend, by key."""
    resources = Resource.objects.in_bulk(
        {item.key for item in content.resources}
        | {key for item in content.questions for key in item.resources or ()},
        field_name="key",
    )
    for item in content.resources:
        existing = resources.get(item.key)
        resources[item.key] = _save_resource(item, existing, stored)
        history.record([resources[item.key]])
        if existing is None:
            summary.resources_created += 1
        else:
            summary.resources_updated += 1
    return resources


def _write_questions(
    items: list[QuestionItem], stored: list[str], summary: ImportSummary, history: BulkRecorder, **options
) -> dict[str, Question]:
    """Save ``items`` and their figures; returns them and the questions they link to, by key."""
    questions = Question.objects.in_bulk(
        {item.key for item in items} | {key for item in items for key in item.related or ()},
        field_name="key",
    )
    created = sum(item.key not in questions for item in items)
    questions.update(bulk.write_questions(items, questions, history=history, **options))
    for item in items:
        _save_figures(item, questions[item.key], stored)
    for at in {item.publish_at for item in items if item.publish_at and item.publish_at > timezone.now()}:
        freshness.schedule(at)
    # One bump for every row written in bulk, which sends no signals.
    freshness.bump()
    summary.questions_created += created
    summary.questions_updated += len(items) - created
    return questions


def _write(content: Content, stored: list[str], history: BulkRecorder, **options) -> ImportSummary:
    summary = ImportSummary()
    resources = _write_resources(content, stored, summary, history)
    # With the questions, their links: each once the questions it names are written.
    _write_questions(content.questions, stored, summary, history, resources=resources, **options)
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


class ImportInterrupted(Exception):
    """A chunked import stopped by a fault after some chunks had committed."""

    def __init__(self, committed: int, total: int, cause: BaseException):
        self.committed, self.total = committed, total
        super().__init__(
            f"stopped after {committed:,} of {total:,} questions were committed ({cause}); "
            "the committed ones stay. Run the same command again to finish: rows are matched "
            "by key, so what is already stored is updated in place, never duplicated."
        )


@contextlib.contextmanager
def _files_removed_on_failure(stored: list[str]):
    """Delete the files stored inside the block when it fails (both resources and
    figures live in the default storage)."""
    try:
        yield
    except BaseException:
        storage = Resource._meta.get_field("file").storage
        for name in stored:
            storage.delete(name)
        raise


def import_content(
    *,
    path: Path,
    dry_run: bool = False,
    defer_embeddings: bool = False,
    chunk: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import a content file, all or nothing.

    Raises TransferError listing every problem (item and field) when anything is
    wrong; in that case no row is written and no file is left in storage.
    ``dry_run`` checks everything and writes nothing. The imported questions are
    embedded for search by meaning when the import commits, unless
    ``defer_embeddings`` (or a file of ``BULK_EMBEDDINGS`` questions or more)
    leaves that to ``manage.py embed_questions``.

    ``chunk`` commits every ``chunk`` questions instead of once: for files too big
    for one transaction. The whole file is still checked before anything is
    written; a fault later (the disk, the database) raises ``ImportInterrupted``
    and leaves the chunks committed before it, which a rerun of the same file
    completes. ``workers`` is the number of rendering processes (default: one per
    core); ``progress(done, total)`` is called as questions are written.
    """
    if path.is_dir():
        path = path / CONTENT_FILE
    content, problems = read_content(path)
    summary = ImportSummary()
    defer = defer_embeddings or len(content.questions) >= BULK_EMBEDDINGS
    summary.embeddings_deferred = len(content.questions) if defer and meaning.enabled() else 0
    with meaning.deferred() if defer else contextlib.nullcontext():
        if not dry_run:
            remove_abandoned_files()
        with _Journal() as journal, announcing(journal.record):
            if chunk is None:
                return _import_at_once(content, problems, path, summary, dry_run, workers, progress)
            return _import_chunked(content, problems, path, summary, dry_run, chunk, workers, progress)


def _checked(content: Content, problems: list[str]) -> None:
    # Checked inside the caller's transaction so the keys cannot vanish before the writes.
    problems = problems + _reference_problems(content)
    if problems:
        raise TransferError(problems)


def _import_at_once(content, problems, path, summary, dry_run, workers, progress) -> ImportSummary:
    stored: list[str] = []
    with _files_removed_on_failure(stored), transaction.atomic():
        _checked(content, problems)
        if dry_run:
            return ImportSummary()
        # One revision for the whole file: every question and resource it
        # changes gets a version whose author is the file (qa.history).
        history = BulkRecorder(f"import: {path.name}")
        done = (lambda n: progress(n, len(content.questions))) if progress else None
        written = _write(content, stored, history, workers=workers, progress=done)
    written.embeddings_deferred = summary.embeddings_deferred
    return written


def _import_chunked(content, problems, path, summary, dry_run, chunk, workers, progress) -> ImportSummary:
    with transaction.atomic():
        _checked(content, problems)
    if dry_run:
        return ImportSummary()
    total, committed = len(content.questions), 0
    stored: list[str] = []
    # Each step is one transaction: the resources, then each chunk of questions,
    # then every link (all questions exist by then). The versions of all steps
    # share one revision, made by the first step that records one.
    history = BulkRecorder(f"import: {path.name}")
    try:
        with _files_removed_on_failure(stored), transaction.atomic():
            resources = _write_resources(content, stored, summary, history)
        for start in range(0, total, chunk):
            items = content.questions[start : start + chunk]
            stored = []
            done = (lambda n, start=start: progress(start + n, total)) if progress else None
            with _files_removed_on_failure(stored), transaction.atomic():
                _write_questions(items, stored, summary, history, workers=workers, progress=done)
            summary.files_stored += len(stored)
            committed = start + len(items)
        with transaction.atomic():
            keys = {item.key for item in content.questions} | {
                key for item in content.questions for key in item.related or ()
            }
            bulk.write_links(content.questions, Question.objects.in_bulk(keys, field_name="key"), resources)
            if content.synonyms:
                summary.synonym_groups_created = synonyms.add_groups(content.synonyms)
            freshness.bump()
    except TransferError:
        raise
    except Exception as exc:
        raise ImportInterrupted(committed, total, exc) from exc
    return summary
