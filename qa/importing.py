"""Importing a content file (docs/import-format.md), all or nothing by default.

Nothing is written until the whole file has been checked (qa/transfer.py reads it,
the references are checked here inside the transaction). Resources, few and carrying
files, are saved one by one through ``Resource.save()``; files go through the storage
API, so remote storage works too, and files stored by an import that fails are
deleted again.

Questions are written in bulk, a batch at a time: Markdown rendered and search
tokens computed first (in worker processes when the file is big), then
``bulk_create``/``bulk_update`` by key, tag links, curated links and
recommendations in bulk, and the search index through
``qa.search.index.index_entries``. Bulk writes send no per-row signals, so
nothing is indexed twice; the content version is bumped once per batch.
``chunk_size`` commits each batch on its own (resumable: running the same file
again finishes the job, by key, without duplicates).
"""

import contextlib
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from qa import freshness
from qa.markdown import excerpt, render_markdown
from qa.models import EXCERPT_LENGTH, Question, RelatedQuestion, Tag, unicode_slug
from qa.search import index, tokenize
from qa.transfer import CONTENT_FILE, Content, QuestionItem, ResourceItem, TransferError, read_content
from resources.models import Recommendation, Resource, file_type_of

# Questions written per batch (and per transaction with ``chunk_size``).
BATCH = 1000
# Below this many questions, starting worker processes costs more than it saves.
POOL_MIN = 2000
# From this many questions on, an import is a bulk load: embeddings are left to the
# background command unless the caller says otherwise.
BULK_EMBEDDINGS = 1000

# Sent once the questions of an import are written, inside its transaction (the
# last one with ``chunk_size``): ``question_ids`` (created or updated) and
# ``defer_embeddings``. The meaning index embeds them now when that is False and
# leaves them to its background command when True.
content_imported = Signal()


@dataclass
class ImportSummary:
    questions_created: int = 0
    questions_updated: int = 0
    resources_created: int = 0
    resources_updated: int = 0
    files_stored: int = 0
    embeddings_deferred: int = 0

    def __str__(self):
        return (
            f"questions: {self.questions_created} created, {self.questions_updated} updated; "
            f"resources: {self.resources_created} created, {self.resources_updated} updated; "
            f"files stored: {self.files_stored}"
        )


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


def _tags_named(names: set[str]) -> dict[str, Tag]:
    """Tags by casefolded name: existing ones matched ignoring case (the oldest wins),
    new ones created, each with a slug no other tag has."""
    by_name: dict[str, Tag] = {}
    slugs = set()
    for tag in Tag.objects.order_by("-pk").only("pk", "name", "slug"):
        by_name[tag.name.casefold()] = tag
        slugs.add(tag.slug)
    new = []
    for name in sorted(names, key=str.casefold):
        if name.casefold() in by_name:
            continue
        base = unicode_slug(name, 55)
        slug, n = base, 2
        while slug in slugs:
            slug, n = f"{base}-{n}", n + 1
        slugs.add(slug)
        by_name[name.casefold()] = tag = Tag(name=name, slug=slug)
        new.append(tag)
    Tag.objects.bulk_create(new)
    # What Tag's post_save hook would do: the segmenter keeps tag names whole.
    tokenize.add_words(tag.name for tag in new)
    return by_name


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
        resource.save()
    stored.append(resource.file.name)
    return resource


def _rendered(job: tuple) -> tuple:
    """(body_html, answer_html, excerpt) and the search entry of one question: pure,
    so it runs in worker processes. ``html`` is given when the Markdown is unchanged."""
    title, body, answer, html, tag_names = job
    if html is None:
        body_html, answer_html = render_markdown(body), render_markdown(answer)
        html = (body_html, answer_html, excerpt(answer_html, EXCERPT_LENGTH))
    entry = index.prepare(title=title, body_html=html[0], answer_html=html[1], tag_names=tag_names)
    return html, entry


def _render_batch(jobs: list[tuple]) -> list[tuple]:
    return [_rendered(job) for job in jobs]


def _workers(total: int) -> int:
    if total < POOL_MIN or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return min(len(os.sched_getaffinity(0)), 4)


def _rendered_batches(batches: list[list[tuple]]):
    """The rendered form of each batch of jobs, in order.

    Big imports render in forked worker processes, a couple of batches ahead
    of the writer, so writing one batch overlaps rendering the next. The
    workers only compute: they never touch the database connection they
    inherit, and leave with ``os._exit``, which closes nothing of it."""
    workers = _workers(sum(map(len, batches)))
    if not workers:
        yield from map(_render_batch, batches)
        return
    # Loaded before the fork, so no worker reads the tag names from the database.
    tokenize.warm_up()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        pending = []
        for batch in batches:
            pending.append(pool.submit(_render_batch, batch))
            if len(pending) > workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()
    finally:
        pool.shutdown(cancel_futures=True)


_QUESTION_FIELDS = [
    "title", "slug", "body", "answer", "body_html", "answer_html", "excerpt", "views", "created",
    "is_published", "updated",
]  # fmt: skip


def _apply(item: QuestionItem, question: Question | None) -> tuple[Question, tuple | None]:
    """The question row with the file's values set, and its stored HTML when the
    Markdown did not change (so it need not be rendered again)."""
    question = question or Question(key=item.key)
    unchanged = question.pk and question.answer == item.answer and (item.body in (None, question.body))
    html = (question.body_html, question.answer_html, question.excerpt) if unchanged else None
    if question.title != item.title:
        question.slug = unicode_slug(item.title)
    question.title = item.title
    question.answer = item.answer
    _set_given(question, body=item.body, views=item.views, created=item.created, is_published=item.published)
    return question, html


def _stored_tag_names(pks: list[int]) -> dict[int, list[str]]:
    names = defaultdict(list)
    through = Question.tags.through.objects
    for chunk in _chunks(pks):
        for pk, name in through.filter(question_id__in=chunk).values_list("question_id", "tag__name"):
            names[pk].append(name)
    return names


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_questions(batch: list[tuple[QuestionItem, Question]], rendered: list[tuple], tags) -> None:
    """Write one batch of (item, question row) pairs with their rendered form."""
    now = timezone.now()
    entries, removed = {}, []
    for (_item, question), (html, _entry) in zip(batch, rendered, strict=True):
        question.body_html, question.answer_html, question.excerpt = html
        question.updated = now
    new = [question for _item, question in batch if question.pk is None]
    old = [question for _item, question in batch if question.pk is not None]
    Question.objects.bulk_create(new, batch_size=500)
    Question.objects.bulk_update(old, _QUESTION_FIELDS, batch_size=250)
    links = {}
    for (item, question), (_html, entry) in zip(batch, rendered, strict=True):
        if item.tags is not None:
            links[question.pk] = [tags[name.casefold()].pk for name in item.tags]
        if question.is_published:
            entries[question.pk] = entry
        else:
            removed.append(question.pk)
    _replace_links(Question.tags.through, "question_id", "tag_id", links, ordered=False)
    index.index_entries(entries, removed=removed)


def _replace_links(model, owner: str, target: str, wanted: dict[int, list[int]], *, ordered=True) -> None:
    """Make the link rows of each owner exactly ``wanted[owner]`` (in that order, as
    ``position``, when ``ordered``); owners whose links already match are left alone."""
    fields = [owner, target, "position"] if ordered else [owner, target]
    current = defaultdict(list)
    for chunk in _chunks(list(wanted)):
        rows = model.objects.filter(**{f"{owner}__in": chunk}).order_by(*fields[::-1]).values_list(*fields)
        for row in rows:
            current[row[0]].append(row[1])

    def same(pk):
        return current[pk] == wanted[pk] if ordered else set(current[pk]) == set(wanted[pk])

    changed = [pk for pk in wanted if not same(pk)]
    for chunk in _chunks([pk for pk in changed if current[pk]]):
        model.objects.filter(**{f"{owner}__in": chunk}).delete()
    rows = []
    for pk in changed:
        for position, other in enumerate(wanted[pk]):
            values = {owner: pk, target: other}
            if ordered:
                values["position"] = position
            rows.append(model(**values))
    model.objects.bulk_create(rows, batch_size=500)


def _link(items: list[QuestionItem], questions: dict[str, Question], resources: dict[str, Resource]) -> None:
    """Curated related questions and recommended resources of ``items``, in the file's order."""
    related, recommended = {}, {}
    for item in items:
        pk = questions[item.key].pk
        if item.related is not None:
            related[pk] = [questions[key].pk for key in item.related]
        if item.resources is not None:
            recommended[pk] = [resources[key].pk for key in item.resources]
    _replace_links(RelatedQuestion, "from_question_id", "to_question_id", related)
    _replace_links(Recommendation, "question_id", "resource_id", recommended)


def _write(
    content: Content,
    stored: list[str],
    *,
    chunk_size: int | None,
    progress: Callable[[int, int], None] | None,
    defer_embeddings: bool | None,
) -> ImportSummary:
    # One transaction around everything by default (the caller's); with chunk_size,
    # one per step.
    step = transaction.atomic if chunk_size else contextlib.nullcontext
    size = chunk_size or BATCH
    summary = ImportSummary()
    with step():
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
    if chunk_size:
        stored.clear()  # committed: a later failure must not delete them

    keys = {item.key for item in content.questions}
    questions = Question.objects.in_bulk(
        keys | {key for item in content.questions for key in item.related or ()}, field_name="key"
    )
    stored_names = _stored_tag_names(
        [questions[item.key].pk for item in content.questions if item.tags is None and item.key in questions]
    )
    with step():
        tags = _tags_named({name for item in content.questions for name in item.tags or ()})

    rows, jobs = [], []
    for item in content.questions:
        existing = questions.get(item.key)
        question, html = _apply(item, existing)
        if item.tags is None:
            names = stored_names.get(question.pk, [])
        else:
            names = [tags[name.casefold()].name for name in item.tags]
        rows.append((item, question))
        jobs.append((question.title, question.body, question.answer, html, names))
        if existing is None:
            summary.questions_created += 1
        else:
            summary.questions_updated += 1
    batches = [(rows[i : i + size], jobs[i : i + size]) for i in range(0, len(rows), size)]
    done = 0
    for (batch, _jobs), rendered in zip(batches, _rendered_batches([j for _b, j in batches]), strict=True):
        with step():
            _write_questions(batch, rendered, tags)
            freshness.bump()
        for item, question in batch:
            questions[item.key] = question
        done += len(batch)
        if progress:
            progress(done, len(rows))

    # Links last: a question may point at one that comes later in the file.
    for start in range(0, len(content.questions), size):
        with step():
            _link(content.questions[start : start + size], questions, resources)
            freshness.bump()

    ids = [questions[item.key].pk for item in content.questions]
    if defer_embeddings is None:
        defer_embeddings = len(ids) >= BULK_EMBEDDINGS
    if ids:
        with step():
            content_imported.send(sender=Question, question_ids=ids, defer_embeddings=defer_embeddings)
        if defer_embeddings and content_imported.has_listeners(Question):
            summary.embeddings_deferred = len(ids)
    return summary


def import_content(
    *,
    path: Path,
    dry_run: bool = False,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    defer_embeddings: bool | None = None,
) -> ImportSummary:
    """Import a content file, all or nothing.

    Raises TransferError listing every problem (item and field) when anything is
    wrong; in that case no row is written and no file is left in storage.
    ``dry_run`` checks everything and writes nothing.

    ``chunk_size`` commits every ``chunk_size`` questions instead of once at the
    end (for very big files): a failure half-way leaves the committed chunks in
    place, and importing the same file again completes it. ``progress(done,
    total)`` is called after each batch of questions. ``defer_embeddings`` leaves
    the meaning index to its background command (default: for imports of
    ``BULK_EMBEDDINGS`` questions or more); see ``content_imported``.
    """
    if path.is_dir():
        path = path / CONTENT_FILE
    content, problems = read_content(path)
    stored: list[str] = []
    options = {"chunk_size": chunk_size, "progress": progress, "defer_embeddings": defer_embeddings}
    try:
        # Checked inside the transaction so the keys cannot vanish before the writes
        # (with chunk_size, before the first chunk).
        with transaction.atomic() if not chunk_size or dry_run else contextlib.nullcontext():
            problems += _reference_problems(content)
            if problems:
                raise TransferError(problems)
            if dry_run:
                return ImportSummary()
            if chunk_size:
                return _write(content, stored, **options)
        with transaction.atomic():
            return _write(content, stored, **options)
    except BaseException:
        storage = Resource._meta.get_field("file").storage
        for name in stored:
            storage.delete(name)
        raise
