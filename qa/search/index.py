"""Keeping the search index in step with questions and tags.

The index is one ``SearchDocument`` per published question, its tokens in the
database's full-text engine (``qa.search.backends``), and the vocabulary
(``SearchTerm``) with document frequencies plus the ``#docs`` row counting the
documents. ``connect()`` (from ``QaConfig.ready``) hooks ``index_question`` and
``remove_question`` to saves, deletes and tag changes; ``rebuild_index`` serves
``manage.py rebuild_search_index`` and migration 0002. Bulk writers (``qa.importing``)
bypass the per-save hooks: they compute entries with ``prepare`` (pure, so it can
run in worker processes) and write thousands at once with ``index_entries``.

Hooks run inside the caller's transaction, so an import or an admin save that
rolls back leaves the index as it was. Bulk ``QuerySet.update()`` bypasses them:
search still hides unpublished questions at query time, and
``rebuild_search_index`` repairs anything else.
"""

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from qa.markdown import plain_text
from qa.models import Question, SearchDocument, SearchTerm, Tag
from qa.search import tokenize
from qa.search.backends import backend
from qa.workers import mapper

tokenize.set_cache_dir(settings.VAR_DIR / "jieba")
# Tag names are domain words: the segmenter keeps them whole.
tokenize.set_word_source(lambda: Tag.objects.values_list("name", flat=True))

DOCS = "#docs"
_CHUNK = 500
# Saves that touch only these fields cannot change what is indexed.
_UNINDEXED_FIELDS = {"views", "updated"}


def document_texts(*, title: str, body_html: str, answer_html: str, tag_names: Iterable[str]):
    """Normalised (title, body) text of a question; tags count as body text."""
    body = " ".join([plain_text(body_html), plain_text(answer_html), *tag_names])
    return tokenize.normalize(title), tokenize.normalize(body)


def index_question(question: Question) -> None:
    """Bring the index entry of ``question`` up to date (removing it when unpublished;
    a scheduled question stays in, and search leaves it out until its time)."""
    if not question.is_published:
        remove_question(question.pk)
        return
    entry = prepare(
        title=question.title,
        body_html=question.body_html,
        answer_html=question.answer_html,
        tag_names=question.tags.values_list("name", flat=True),
    )
    index_entries({question.pk: entry})


def remove_question(pk: int) -> None:
    """Take one question out of the index (unpublished or deleted)."""
    index_entries({}, removed=[pk])


def _chunks(items: list, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class SourceQuestion:
    pk: int
    title: str
    body_html: str
    answer_html: str
    tag_names: list[str] = field(default_factory=list)


@dataclass
class Entry:
    """The index entry of one question: normalised texts and their tokens."""

    title: str
    body: str
    title_tokens: list[str]
    body_tokens: list[str]
    title_initials: str

    def __reduce__(self):
        # Entries cross processes in the bulk importer: a few joined strings
        # pickle many times faster than lists of short ones (tokens hold no spaces).
        joined = (" ".join(self.title_tokens), " ".join(self.body_tokens))
        return _unpickled_entry, (self.title, self.body, *joined, self.title_initials)

    def document(self, pk: int) -> SearchDocument:
        return SearchDocument(
            question_id=pk,
            title_text=self.title,
            body_text=self.body,
            title_tokens=" ".join(self.title_tokens),
            body_tokens=" ".join(self.body_tokens),
            title_initials=self.title_initials,
        )


def _unpickled_entry(title: str, body: str, title_tokens: str, body_tokens: str, initials: str) -> Entry:
    return Entry(title, body, title_tokens.split(), body_tokens.split(), initials)


def prepare(*, title: str, body_html: str, answer_html: str, tag_names: Iterable[str]) -> Entry:
    """The entry of a question, computed without the database (safe in a worker process
    forked after ``tokenize.warm_up()``)."""
    title_text, body_text = document_texts(
        title=title, body_html=body_html, answer_html=answer_html, tag_names=tag_names
    )
    title_tokens, body_tokens = tokenize.document_tokens(title_text), tokenize.document_tokens(body_text)
    return Entry(title_text, body_text, title_tokens, body_tokens, tokenize.initials(title_text))


def index_entries(
    entries: dict[int, Entry], *, removed: Iterable[int] = (), counts: Counter[str] | None = None
) -> None:
    """Write many entries at once (question id → entry) and take ``removed`` out.

    The bulk form of ``index_question``/``remove_question``: the same rows, the
    same vocabulary counts, in a handful of statements per few hundred questions.
    Runs in the caller's transaction. With ``counts``, the changes to the
    vocabulary's counts are added there instead of written, for the caller to
    write once with ``apply_counts`` after many calls (and before it commits)."""
    removed = [pk for pk in removed if pk not in entries]
    pks = [*entries, *removed]
    engine = backend()
    with transaction.atomic():
        old: dict[int, set[str]] = {}
        for chunk in _chunks(pks):
            rows = SearchDocument.objects.filter(pk__in=chunk).values_list(
                "question_id", "title_tokens", "body_tokens"
            )
            old.update((pk, set(f"{title} {body}".split())) for pk, title, body in rows)
        delta: Counter[str] = Counter()
        for pk, entry in entries.items():
            new, before = {*entry.title_tokens, *entry.body_tokens}, old.get(pk, set())
            delta.update(new - before)
            delta.subtract(before - new)
        for pk in removed:
            delta.subtract(old.get(pk, ()))
        delta[DOCS] += sum(pk not in old for pk in entries) - sum(pk in old for pk in removed)

        with connection.cursor() as cursor:
            engine.delete_many(cursor, [pk for pk in pks if pk in old])
            engine.write_many(cursor, [(pk, e.title_tokens, e.body_tokens) for pk, e in entries.items()])
        for chunk in _chunks([pk for pk in pks if pk in old]):
            SearchDocument.objects.filter(pk__in=chunk).delete()
        SearchDocument.objects.bulk_create(
            (entry.document(pk) for pk, entry in entries.items()), batch_size=_CHUNK
        )
        if counts is None:
            apply_counts(delta)
        else:
            counts.update(delta)


def apply_counts(delta: Counter[str]) -> None:
    """Add ``delta`` to the document frequencies, one UPDATE per distinct change and chunk."""
    changes = {term: change for term, change in delta.items() if change}
    SearchTerm.objects.bulk_create(
        (SearchTerm(term=term, df=0) for term in changes), ignore_conflicts=True, batch_size=_CHUNK
    )
    by_change = defaultdict(list)
    for term, change in changes.items():
        by_change[change].append(term)
    for change, terms in by_change.items():
        for chunk in _chunks(sorted(terms)):
            SearchTerm.objects.filter(term__in=chunk).update(df=F("df") + change)


def _prepared(source: SourceQuestion) -> Entry:
    return prepare(
        title=source.title,
        body_html=source.body_html,
        answer_html=source.answer_html,
        tag_names=source.tag_names,
    )


def rebuild_index(
    questions: Iterable[SourceQuestion], *, synonym_groups: int = 0, workers: int = 1, expected: int = 0
) -> int:
    """Replace the whole index with entries for ``questions`` (the published ones),
    and ``synonym_groups``, the number of synonym groups (``qa.search.synonyms``).

    Used by ``rebuild_search_index`` and by the migration that creates the
    index; takes plain data so that a migration can feed it historical rows.
    Entries are written a chunk at a time, so memory does not grow with the table.
    With ``workers`` above one and ``expected`` questions worth it, the entries
    are computed by that many worker processes (``qa.workers``), one chunk ahead
    of the writes."""
    vocabulary: Counter[str] = Counter()
    engine = backend()
    count = 0

    def write(chunk: list[SourceQuestion], entries) -> None:
        pairs = [(source.pk, entry) for source, entry in zip(chunk, entries, strict=True)]
        for _pk, entry in pairs:
            vocabulary.update({*entry.title_tokens, *entry.body_tokens})
        SearchDocument.objects.bulk_create(entry.document(pk) for pk, entry in pairs)
        with connection.cursor() as cursor:
            engine.write_many(cursor, [(pk, e.title_tokens, e.body_tokens) for pk, e in pairs])

    with transaction.atomic():
        with connection.cursor() as cursor:
            engine.clear(cursor)
        SearchDocument.objects.all().delete()
        SearchTerm.objects.all().delete()
        with mapper(workers, expected) as run:
            waiting = None
            # The sources are read here, in this thread (the connection is this
            # thread's); the workers get lists, the next while this one is written.
            sources = iter(questions)
            while chunk := list(itertools.islice(sources, _CHUNK * 4)):
                started = (chunk, run(_prepared, chunk))
                if waiting is not None:
                    write(*waiting)
                waiting = started
                count += len(chunk)
            if waiting is not None:
                write(*waiting)
        vocabulary[DOCS] = count
        if synonym_groups:
            vocabulary["#synonyms"] = synonym_groups
        SearchTerm.objects.bulk_create(
            (SearchTerm(term=term, df=df) for term, df in vocabulary.items()), batch_size=_CHUNK
        )
    return count


def published_sources() -> Iterable[SourceQuestion]:
    # Scheduled questions are indexed like published ones (as on save); search
    # hides them at query time until their publish_at passes.
    questions = Question.objects.filter(is_published=True).prefetch_related("tags").order_by("pk")
    for question in questions.iterator(chunk_size=1000):
        yield SourceQuestion(
            pk=question.pk,
            title=question.title,
            body_html=question.body_html,
            answer_html=question.answer_html,
            tag_names=[tag.name for tag in question.tags.all()],
        )


def question_saved(sender, instance, update_fields=None, **kwargs):
    if update_fields is not None and set(update_fields) <= _UNINDEXED_FIELDS:
        return
    index_question(instance)


def question_deleted(sender, instance, **kwargs):
    # Before the delete: the cascade removes the SearchDocument whose tokens are needed.
    remove_question(instance.pk)


def tags_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action == "pre_clear" and reverse:
        instance._search_reindex = list(instance.questions.values_list("pk", flat=True))
        return
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if not reverse:
        index_question(instance)
        return
    pks = pk_set if action != "post_clear" else getattr(instance, "_search_reindex", [])
    _reindex(pks)


def tag_saved(sender, instance, created, **kwargs):
    tokenize.add_words([instance.name])
    if not created:
        _reindex(instance.questions.values_list("pk", flat=True))


def tag_deleting(sender, instance, **kwargs):
    instance._search_reindex = list(instance.questions.values_list("pk", flat=True))


def tag_deleted(sender, instance, **kwargs):
    _reindex(getattr(instance, "_search_reindex", []))


def _reindex(pks):
    for question in Question.objects.filter(pk__in=list(pks)):
        index_question(question)


def connect() -> None:
    """Keep the index in step with every save, delete and tag change."""
    hooks = [
        (post_save, question_saved, Question),
        (pre_delete, question_deleted, Question),
        (m2m_changed, tags_changed, Question.tags.through),
        (post_save, tag_saved, Tag),
        (pre_delete, tag_deleting, Tag),
        (post_delete, tag_deleted, Tag),
    ]
    for signal, handler, sender in hooks:
        signal.connect(handler, sender=sender, dispatch_uid=f"qa.search.{handler.__name__}")
