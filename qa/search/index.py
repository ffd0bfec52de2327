"""Keeping the search index in step with questions and tags.

The index is one ``SearchDocument`` per published question, its tokens in the
database's full-text engine (``qa.search.backends``), and the vocabulary
(``SearchTerm``) with document frequencies plus the ``#docs`` row counting the
documents. ``connect()`` (from ``QaConfig.ready``) hooks ``index_question`` and
``remove_question`` to saves, deletes and tag changes; ``rebuild_index`` serves
``manage.py rebuild_search_index`` and migration 0002.

Hooks run inside the caller's transaction, so an import or an admin save that
rolls back leaves the index as it was. Bulk ``QuerySet.update()`` bypasses them:
search still hides unpublished questions at query time, and
``rebuild_search_index`` repairs anything else.
"""

from collections import Counter
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
    title, body = document_texts(
        title=question.title,
        body_html=question.body_html,
        answer_html=question.answer_html,
        tag_names=question.tags.values_list("name", flat=True),
    )
    title_tokens = tokenize.document_tokens(title)
    body_tokens = tokenize.document_tokens(body)
    with transaction.atomic():
        old = SearchDocument.objects.filter(pk=question.pk).values_list("title_tokens", "body_tokens").first()
        old_tokens = set(" ".join(old).split()) if old else set()
        new_tokens = {*title_tokens, *body_tokens}
        SearchDocument.objects.update_or_create(
            question_id=question.pk,
            defaults={
                "title_text": title,
                "body_text": body,
                "title_tokens": " ".join(title_tokens),
                "body_tokens": " ".join(body_tokens),
                "title_initials": tokenize.initials(title),
            },
        )
        with connection.cursor() as cursor:
            backend().write(cursor, question.pk, title_tokens, body_tokens)
        _adjust_vocabulary(new_tokens - old_tokens, old_tokens - new_tokens, docs=0 if old else 1)


def remove_question(pk: int) -> None:
    """Take one question out of the index (unpublished or deleted)."""
    with transaction.atomic():
        old = SearchDocument.objects.filter(pk=pk).values_list("title_tokens", "body_tokens").first()
        if old is None:
            return
        with connection.cursor() as cursor:
            backend().delete(cursor, pk)
        SearchDocument.objects.filter(pk=pk).delete()
        _adjust_vocabulary(set(), set(" ".join(old).split()), docs=-1)


def _chunks(items: list, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _adjust_vocabulary(added: set[str], removed: set[str], *, docs: int) -> None:
    SearchTerm.objects.bulk_create(
        [SearchTerm(term=term, df=0) for term in [DOCS, *added]], ignore_conflicts=True, batch_size=_CHUNK
    )
    for chunk in _chunks(sorted(added)):
        SearchTerm.objects.filter(term__in=chunk).update(df=F("df") + 1)
    for chunk in _chunks(sorted(removed)):
        SearchTerm.objects.filter(term__in=chunk).update(df=F("df") - 1)
    if docs:
        SearchTerm.objects.filter(term=DOCS).update(df=F("df") + docs)


@dataclass
class SourceQuestion:
    pk: int
    title: str
    body_html: str
    answer_html: str
    tag_names: list[str] = field(default_factory=list)


def rebuild_index(questions: Iterable[SourceQuestion], *, synonym_groups: int = 0) -> int:
    """Replace the whole index with entries for ``questions`` (the published ones),
    and ``synonym_groups``, the number of synonym groups (``qa.search.synonyms``).

    Used by ``rebuild_search_index`` and by the migration that creates the
    index; takes plain data so that a migration can feed it historical rows."""
    documents = []
    vocabulary: Counter[str] = Counter()
    for source in questions:
        title, body = document_texts(
            title=source.title,
            body_html=source.body_html,
            answer_html=source.answer_html,
            tag_names=source.tag_names,
        )
        title_tokens = tokenize.document_tokens(title)
        body_tokens = tokenize.document_tokens(body)
        vocabulary.update({*title_tokens, *body_tokens})
        documents.append((source.pk, title, body, title_tokens, body_tokens))

    engine = backend()
    with transaction.atomic():
        with connection.cursor() as cursor:
            engine.clear(cursor)
        SearchDocument.objects.all().delete()
        SearchTerm.objects.all().delete()
        for chunk in _chunks(documents):
            SearchDocument.objects.bulk_create(
                SearchDocument(
                    question_id=pk,
                    title_text=title,
                    body_text=body,
                    title_tokens=" ".join(title_tokens),
                    body_tokens=" ".join(body_tokens),
                    title_initials=tokenize.initials(title),
                )
                for pk, title, body, title_tokens, body_tokens in chunk
            )
            with connection.cursor() as cursor:
                for pk, _title, _body, title_tokens, body_tokens in chunk:
                    engine.write(cursor, pk, title_tokens, body_tokens)
        vocabulary[DOCS] = len(documents)
        if synonym_groups:
            vocabulary["#synonyms"] = synonym_groups
        SearchTerm.objects.bulk_create(
            (SearchTerm(term=term, df=df) for term, df in vocabulary.items()), batch_size=_CHUNK
        )
    return len(documents)


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
