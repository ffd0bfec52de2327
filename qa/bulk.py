"""Writing many questions at once, leaving what a save of each would leave.

``write_questions`` is the importer's question writer. For every question it
stores what ``Question.save`` and the signal handlers behind it store (the
rendered HTML, the search entry, tag links, a history version, the embedding
queue) but in a handful of statements per batch of ``BATCH``, with the Markdown
rendered and the search tokens computed in worker processes (``qa.workers``).
``write_links`` does the same for curated links and recommended resources. The
caller bumps the content version once (``qa.freshness``).

Figures are the exception: they are files, so a question's figures are stored
through ``Figure.save`` by the importer, whose signal renders that question again.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from qa.history import BulkRecorder
from qa.models import Figure, Question, RelatedQuestion, Tag, render_question, unicode_slug
from qa.search import meaning
from qa.search.index import Entry, apply_counts, index_entries, prepare
from qa.transfer import QuestionItem
from qa.workers import default_workers, fewer_collections, mapper
from resources.models import Recommendation, Resource

# Questions written per round of statements: big enough that a statement's own cost
# is spread thin, small enough that SQLite's bound-parameter limit is far away.
BATCH = 500
# The fields a bulk update writes: all the file can give, plus what save() derives.
UPDATED_FIELDS = [
    "title", "slug", "body", "body_html", "answer", "answer_html", "answer_toc_html", "excerpt",
    "views", "created", "is_published", "publish_at", "updated", "answer_updated",
]  # fmt: skip

Job = tuple[str, str, dict, str, list[str], bool]
Rendered = tuple[tuple[str, str, str, str], Entry | None]
Progress = Callable[[int], None]


def set_given(obj, **values) -> None:
    """Set the fields the file gave; a field left out (None) keeps its stored value."""
    for field, value in values.items():
        if value is not None:
            setattr(obj, field, value)


def resolve_tags(names: Iterable[str]) -> dict[str, Tag]:
    """Tags by lower-cased name: a stored tag matches case-insensitively (the
    oldest one wins), a new one is saved with a slug no other tag has."""
    spellings = dict.fromkeys(names)
    wanted = {name.lower() for name in spellings}
    found: dict[str, Tag] = {}
    candidates = Tag.objects.annotate(lowered=Lower("name")).filter(
        Q(lowered__in=list(wanted)) | Q(name__in=list(spellings))
    )
    for tag in candidates.order_by("-pk"):
        found[tag.name.lower()] = tag
    for name in spellings:
        if name.lower() in found:
            continue
        base = unicode_slug(name, 55)
        slug, n = base, 2
        while Tag.objects.filter(slug=slug).exists():
            slug, n = f"{base}-{n}", n + 1
        tag = Tag(name=name, slug=slug)
        tag.save()  # its signal teaches the segmenter the new word before any worker starts
        found[name.lower()] = tag
    return found


def _render(job: Job) -> Rendered:
    """What save() would derive from one question, computed without the database."""
    body, answer, figures, title, tag_names, published = job
    rendered = render_question(body, answer, figures)
    entry = None
    if published:
        entry = prepare(title=title, body_html=rendered[0], answer_html=rendered[1], tag_names=tag_names)
    return rendered, entry


def _stored_tag_names(pks: list[int]) -> dict[int, list[str]]:
    through = Question.tags.through
    names: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(pks), BATCH):
        rows = through.objects.filter(question_id__in=pks[start : start + BATCH])
        for pk, name in rows.values_list("question_id", "tag__name"):
            names[pk].append(name)
    return names


def _figure_refs(pks: list[int]) -> dict[int, dict]:
    refs: dict[int, dict] = defaultdict(dict)
    for start in range(0, len(pks), BATCH):
        for figure in Figure.objects.filter(question_id__in=pks[start : start + BATCH]):
            refs[figure.question_id][figure.name] = figure.as_ref()
    return refs


def _built(item: QuestionItem, question: Question | None) -> Question:
    """``question`` (a new one when None) with the item's fields set, as the per-row save set them."""
    question = question or Question(key=item.key)
    if question.title != item.title:
        question.slug = unicode_slug(item.title)
    question.title = item.title
    question.answer = item.answer
    set_given(question, body=item.body, views=item.views, created=item.created, is_published=item.published)
    set_given(question, publish_at=item.publish_at)
    return question


def write_questions(
    items: list[QuestionItem],
    existing: dict[str, Question],
    *,
    resources: dict[str, Resource] | None = None,
    history: BulkRecorder | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Question]:
    """Create or update the questions of ``items`` (``existing`` holds the stored
    ones by key, and those they link to), each with a version in ``history``;
    returns every written question by key, with its id. Given ``resources`` (by
    key), it writes the items' links too (``write_links``): each batch's as soon
    as the questions they name are written, the rest at the end."""
    tags = resolve_tags(name for item in items if item.tags for name in item.tags)
    workers = default_workers() if workers is None else workers
    with fewer_collections(), mapper(workers, len(items)) as run:
        questions = [_built(item, existing.get(item.key)) for item in items]
        stored_pks = [q.pk for q in questions if q.pk is not None]
        figures = _figure_refs(stored_pks)
        stored_names = _stored_tag_names(stored_pks)
        tag_lists = [
            [tags[name.lower()] for name in dict.fromkeys(item.tags)] if item.tags is not None else None
            for item in items
        ]
        jobs: list[Job] = [
            (
                q.body,
                q.answer,
                figures.get(q.pk, {}),
                q.title,
                [t.name for t in chosen] if chosen is not None else stored_names.get(q.pk, []),
                q.is_published,
            )
            for q, chosen in zip(questions, tag_lists, strict=True)
        ]
        results = run(_render, jobs)
        known = {key: q for key, q in existing.items() if q.pk is not None}
        unlinked: list[QuestionItem] = []
        # The vocabulary's counts are written once at the end, once per term, not once per batch.
        counts: Counter[str] = Counter()
        for start in range(0, len(items), BATCH):
            batch = list(zip(questions[start : start + BATCH], tag_lists[start : start + BATCH], strict=True))
            entries = _write_batch(batch, [next(results) for _ in batch])
            index_entries(entries, removed=[q.pk for q, _ in batch if q.pk not in entries], counts=counts)
            meaning.queue(entries)
            if history is not None:
                history.record(q for q, _ in batch)
            known.update((q.key, q) for q, _ in batch)
            if resources is not None:
                ready, waiting = _linkable(items[start : start + BATCH], known)
                write_links(ready, known, resources)
                unlinked += waiting
            if progress is not None:
                progress(start + len(batch))
    apply_counts(counts)
    if resources is not None:
        write_links(unlinked, known, resources)
    return {item.key: known[item.key] for item in items}


def _linkable(items: list[QuestionItem], known: dict[str, Question]):
    """``items`` split into those whose curated links all name written questions, and the others."""
    ready, waiting = [], []
    for item in items:
        (ready if all(key in known for key in item.related or ()) else waiting).append(item)
    return ready, waiting


def _write_batch(batch: list[tuple[Question, list[Tag] | None]], results: list[Rendered]) -> dict[int, Entry]:
    """Write one batch of questions and their tag links; returns their search entries by id."""
    now = timezone.now()
    for (question, _), (rendered, _) in zip(batch, results, strict=True):
        question.derive(rendered=rendered)
        question.updated = now  # auto_now is not applied by bulk_update
    new = [q for q, _ in batch if q.pk is None]
    stored = [q for q, _ in batch if q.pk is not None]
    Question.objects.bulk_create(new)  # sets the ids (RETURNING on SQLite and PostgreSQL)
    Question.objects.bulk_update(stored, UPDATED_FIELDS)
    for question, _ in batch:
        question._stored_answer = question.answer

    through = Question.tags.through
    retagged = [(q, chosen) for q, chosen in batch if chosen is not None]
    stored_pks = {q.pk for q in stored}
    through.objects.filter(question_id__in=[q.pk for q, _ in retagged if q.pk in stored_pks]).delete()
    through.objects.bulk_create(
        through(question_id=q.pk, tag_id=t.pk) for q, chosen in retagged for t in chosen
    )

    return {q.pk: entry for (q, _), (_, entry) in zip(batch, results, strict=True) if entry is not None}


def write_links(
    items: list[QuestionItem], questions: dict[str, Question], resources: dict[str, Resource]
) -> None:
    """Make each item's curated links and recommended resources those of the file,
    in order; a field the file left out keeps the stored links."""
    for model, field, owner, targets, target_field in (
        (RelatedQuestion, "related", "from_question_id", questions, "to_question_id"),
        (Recommendation, "resources", "question_id", resources, "resource_id"),
    ):
        given = [item for item in items if getattr(item, field) is not None]
        pks = [questions[item.key].pk for item in given]
        for start in range(0, len(pks), BATCH):
            model.objects.filter(**{f"{owner}__in": pks[start : start + BATCH]}).delete()
        model.objects.bulk_create(
            (
                model(**{owner: questions[item.key].pk, target_field: targets[key].pk, "position": position})
                for item in given
                for position, key in enumerate(getattr(item, field))
            ),
            batch_size=BATCH,
        )
