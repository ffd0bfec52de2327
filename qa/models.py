import hashlib
import uuid

import reversion
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.functions import Now
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from qa.markdown import FigureRef, excerpt, figure_snippet, render_document, render_markdown

# Characters of answer text shown under a related question and in meta descriptions.
EXCERPT_LENGTH = 300


def unicode_slug(text: str, max_length: int = 80) -> str:
    """A URL slug that keeps Chinese characters (``allow_unicode``)."""
    return slugify(text, allow_unicode=True)[:max_length].strip("-") or "q"


class TagQuerySet(models.QuerySet):
    def with_published_questions(self):
        """Tags that a published question carries: a semi-join that stops at each tag's
        first such question, rather than a DISTINCT over every tag link."""
        return self.filter(Exists(Question.objects.published().filter(tags=OuterRef("pk"))))


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True, allow_unicode=True)

    objects = TagQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unicode_slug(self.name, 60)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("qa:tag", kwargs={"slug": self.slug})


def published_condition(prefix: str = "") -> Q:
    """The rule for what visitors may see, as a condition on a question (or on
    ``prefix``, e.g. ``"question__"``, for a row related to one): published and
    its ``publish_at``, if any, passed. Decided by the database clock at query
    time (``Now()``), so a scheduled question goes live by itself."""
    return Q(**{f"{prefix}is_published": True}) & (
        Q(**{f"{prefix}publish_at__isnull": True}) | Q(**{f"{prefix}publish_at__lte": Now()})
    )


class QuestionQuerySet(models.QuerySet):
    def published(self):
        """Questions visitors may see: published, and not scheduled for later."""
        return self.filter(published_condition())

    def with_visibility(self):
        """Each question with ``visible``: whether ``published()`` would give it,
        for callers that look up a few ids and should not filter in SQL."""
        return self.annotate(visible=ExpressionWrapper(published_condition(), output_field=BooleanField()))

    def for_listing(self):
        """Published questions with their tags prefetched."""
        return self.published().prefetch_related("tags")

    def search(self, query: str, *, tag: "Tag | None" = None):
        """Published questions matching ``query``, best first, as ``qa.search.SearchResults``
        (ranked ids, and ``questions()`` to page through them highlighted)."""
        from qa.search import search

        return search(query, tag=tag)

    def related_to(self, question, limit: int = 5) -> list["Question"]:
        """Curated related questions first, in the editor's order, then filled up
        to ``limit`` with the published questions most similar to it (shared
        tags, shared rare words; see ``qa.search.related``). Never the
        question itself, never an unpublished one.

        Each returned question carries ``shared_tags`` (tags it has in common
        with ``question``) and ``shared_words``, to say why it is related.
        A fixed number of queries whatever ``limit`` is, and no similarity
        lookup at all when curated ones fill it."""
        from qa.search.related import related_to

        return related_to(self, question, limit=limit)

    def with_related(self, pk: int, *, limit: int = 5, version: int | None = None):
        """``(question, tags, related)`` for the question page: the question
        ``pk``, its tags, and what is ``related_to`` it. ``version`` is the
        content version (``qa.freshness``) when the caller has read it already,
        which saves a query. Raises ``DoesNotExist`` like ``get()``."""
        from qa.search.related import with_related

        return with_related(self, pk, limit=limit, version=version)

    def count_view(self, pk: int) -> None:
        """Add one view to question ``pk`` atomically in the database; concurrent
        calls never lose one. Signals are not sent: a view is not an edit."""
        self.filter(pk=pk).update(views=F("views") + 1)

    def sorted_by(self, sort: str):
        orderings = {
            "new": ["-created", "-id"],
            "views": ["-views", "-created", "-id"],
            "updated": ["-updated", "-id"],
        }
        return self.order_by(*orderings.get(sort, orderings["new"]))


def render_question(body: str, answer: str, figures: dict[str, FigureRef]) -> tuple[str, str, str, str]:
    """``Question.rendered()`` without the database: body HTML, answer HTML, the
    answer's table of contents and its excerpt. Pure, so the bulk importer can run
    it in worker processes."""
    document = render_document(answer, figures=figures)
    return (
        render_markdown(body, figures=figures),
        document.html,
        document.toc_html,
        excerpt(document.html, EXCERPT_LENGTH),
    )


# History (django-reversion, qa.history) keeps these fields of every version.
QUESTION_HISTORY_FIELDS = ["title", "slug", "body", "answer", "tags", "is_published", "publish_at"]


@reversion.register(fields=QUESTION_HISTORY_FIELDS, ignore_duplicates=True)
class Question(models.Model):
    key = models.CharField(
        _("import key"),
        max_length=100,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Stable external id used by import/export; leave empty for new questions."),
    )
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, allow_unicode=True, blank=True)
    body = models.TextField(_("question details (Markdown)"), blank=True)
    body_html = models.TextField(editable=False, blank=True)
    answer = models.TextField(_("answer (Markdown)"))
    answer_html = models.TextField(editable=False, blank=True)
    answer_toc_html = models.TextField(editable=False, blank=True)
    excerpt = models.TextField(editable=False, blank=True)
    tags = models.ManyToManyField(Tag, related_name="questions", blank=True, verbose_name=_("tags"))
    related = models.ManyToManyField(
        "self",
        through="RelatedQuestion",
        symmetrical=False,
        related_name="+",
        blank=True,
        verbose_name=_("curated related questions"),
    )
    views = models.PositiveIntegerField(_("views"), default=0)
    is_published = models.BooleanField(_("published"), default=True, db_index=True)
    publish_at = models.DateTimeField(
        _("publish at"),
        null=True,
        blank=True,
        db_index=True,
        help_text=_("Leave empty to publish at once; a future time keeps the question hidden until then."),
    )
    created = models.DateTimeField(_("published at"), default=timezone.now, db_index=True)
    updated = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    # When the answer's text last changed (its publication time until then).
    answer_updated = models.DateTimeField(_("answer updated at"), null=True, blank=True, editable=False)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        indexes = [
            models.Index(fields=["is_published", "-created"], name="qa_question_pub_created"),
            models.Index(fields=["is_published", "-views"], name="qa_question_pub_views"),
            models.Index(fields=["is_published", "-updated"], name="qa_question_pub_updated"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="qa_question_title_not_empty"),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        derived = self.derive(update_fields=update_fields)
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, *derived}
        super().save(*args, **kwargs)
        self._stored_answer = self.answer

    def get_absolute_url(self):
        return reverse("qa:detail", kwargs={"pk": self.pk, "slug": self.slug or "q"})

    def derive(self, *, update_fields=None, rendered: tuple[str, str, str, str] | None = None) -> set[str]:
        """Fill in the derived fields (slug, HTML, excerpt, ``answer_updated``) as a
        save of ``update_fields`` needs them; returns the names of those it set.

        Rendered HTML is derived data, written here alone. ``save()`` calls this;
        the bulk importer (``qa.importing``) calls it before ``bulk_create``, with
        ``rendered`` computed by ``rendered()``'s rules in worker processes."""
        if not self.slug:
            self.slug = unicode_slug(self.title)
        derived = set()
        # A partial save that does not touch the Markdown keeps the stored HTML.
        if update_fields is None or {"body", "answer"} & set(update_fields):
            self.body_html, self.answer_html, self.answer_toc_html, self.excerpt = rendered or self.rendered()
            derived |= {"body_html", "answer_html", "answer_toc_html", "excerpt"}
        if update_fields is None or "answer" in update_fields:
            derived |= self._note_answer_change()
        return derived

    @classmethod
    def from_db(cls, db, field_names, values):
        question = super().from_db(db, field_names, values)
        # Compared on save, to tell an edit of the answer from any other save.
        question._stored_answer = question.__dict__.get("answer")
        return question

    def rendered(self) -> tuple[str, str, str, str]:
        """Body HTML, answer HTML, the answer's table of contents and its excerpt, as save() stores them."""
        return render_question(self.body, self.answer, self.figure_refs())

    def figure_refs(self) -> dict[str, FigureRef]:
        """This question's figures by name, as the Markdown renderer takes them."""
        if self.pk is None:
            return {}
        return {figure.name: figure.as_ref() for figure in Figure.objects.filter(question_id=self.pk)}

    def _note_answer_change(self) -> set[str]:
        """Move ``answer_updated`` on when the answer's text differs from the stored one."""
        if self._state.adding or self.pk is None:
            self.answer_updated = self.answer_updated or self.created
            return {"answer_updated"}
        stored = getattr(self, "_stored_answer", None)
        if stored is None:
            stored = Question.objects.filter(pk=self.pk).values_list("answer", flat=True).first()
        if stored != self.answer or self.answer_updated is None:
            self.answer_updated = timezone.now() if stored != self.answer else self.created
            return {"answer_updated"}
        return set()

    @property
    def answer_revised(self) -> bool:
        """True when the answer changed more than a minute after the question was published."""
        return bool(self.answer_updated and (self.answer_updated - self.created).total_seconds() > 60)

    @property
    def publication_state(self) -> str:
        """``"draft"``, ``"scheduled"`` or ``"published"``, by the rule of ``published()``
        (here with this process's clock)."""
        if not self.is_published:
            return "draft"
        if self.publish_at is not None and self.publish_at > timezone.now():
            return "scheduled"
        return "published"


class RelatedQuestion(models.Model):
    """A curated "related question" link, kept in the editor's order."""

    from_question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="related_links")
    to_question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="+", verbose_name=_("related question")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("related question")
        verbose_name_plural = _("related questions")
        constraints = [
            models.UniqueConstraint(fields=["from_question", "to_question"], name="qa_related_unique_pair"),
            models.CheckConstraint(condition=~Q(from_question=F("to_question")), name="qa_related_not_self"),
        ]

    def __str__(self):
        return f"{self.from_question_id} → {self.to_question_id}"


class ContentVersion(models.Model):
    """A single row counting content changes; ``qa.freshness`` reads and bumps it."""

    value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"content version {self.value}"


class PendingPublication(models.Model):
    """A time at which content becomes visible by itself (a question's ``publish_at``).

    ``qa.freshness`` counts the rows whose time has passed into the content
    version, so caches move on when a scheduled question goes live, and folds
    them into ``ContentVersion`` on the next write, which keeps this table small."""

    at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"publication at {self.at:%Y-%m-%d %H:%M:%S}"


class SearchDocument(models.Model):
    """The searchable form of one published question, written by ``qa.search.index``.

    The full-text index itself lives beside it. On SQLite it is an FTS5 table,
    created by migration 0002 and written by ``qa.search.backends.sqlite``. On PostgreSQL
    it is two GIN-indexed tsvector columns, ``search_vector`` (title and body)
    and ``title_vector``, which migration 0003 makes generated columns of
    ``title_tokens`` / ``body_tokens``: saving the row writes them. Both engines
    hold the same tokens.
    """

    question = models.OneToOneField(
        Question, on_delete=models.CASCADE, primary_key=True, related_name="search_document"
    )
    title_text = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    title_tokens = models.TextField(blank=True)
    body_tokens = models.TextField(blank=True)
    # Pinyin initials of the title's Chinese characters (灰度反色 → hdfs), for suggestions.
    title_initials = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return f"search document of {self.question_id}"


class SearchTerm(models.Model):
    """Vocabulary of the index: how many indexed questions contain each token.

    Gives rare words their weight, corrects English typos, and keeps the
    number of indexed questions in a ``#docs`` row, which no real token can equal.
    """

    term = models.CharField(max_length=100, unique=True)
    df = models.IntegerField(default=0)

    def __str__(self):
        return f"{self.term} ({self.df})"


def delete_file_on_commit(storage, name: str) -> None:
    """Delete a stored file once the transaction commits: a rolled-back delete
    or replace must still find its file."""
    transaction.on_commit(lambda: storage.delete(name))


def figure_upload_to(instance, filename: str) -> str:
    # ``filename`` is already generated (Figure.store): a random stem and a content hash.
    return f"figures/{timezone.now():%Y/%m}/{filename}"


class Figure(models.Model):
    """An image shown in a question's Markdown as ``![alt](figure:NAME)`` (SPEC §4).

    Files are re-encoded by ``qa.figures.encode_figure`` and written by ``store()``
    under generated names that carry their content hash, so they are cached for good.
    """

    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="figures", verbose_name=_("question")
    )
    name = models.SlugField(
        _("name"),
        max_length=80,
        allow_unicode=True,
        help_text=_("Used in the Markdown as ![alt](figure:NAME); unique within the question."),
    )
    image = models.FileField(_("image"), upload_to=figure_upload_to, max_length=255, editable=False)
    narrow = models.FileField(
        _("narrow variant"), upload_to=figure_upload_to, max_length=255, blank=True, editable=False
    )
    alt = models.CharField(
        _("alt text"), max_length=300, help_text=_("What the image shows, for readers who cannot see it.")
    )
    caption = models.CharField(_("caption"), max_length=500, blank=True)
    width = models.PositiveIntegerField(_("width"), default=0, editable=False)
    height = models.PositiveIntegerField(_("height"), default=0, editable=False)
    narrow_width = models.PositiveIntegerField(default=0, editable=False)
    sha256 = models.CharField(_("SHA-256 of the stored image"), max_length=64, blank=True, editable=False)
    created = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["question", "name"]
        verbose_name = _("figure")
        verbose_name_plural = _("figures")
        constraints = [
            models.UniqueConstraint(fields=["question", "name"], name="qa_figure_unique_name"),
            models.CheckConstraint(condition=~Q(name=""), name="qa_figure_name_not_empty"),
            models.CheckConstraint(condition=~Q(alt=""), name="qa_figure_alt_not_empty"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        for name in getattr(self, "_replaced", ()):
            if name not in {self.image.name, self.narrow.name}:
                delete_file_on_commit(self.image.storage, name)
        self._replaced = []

    def store(self, encoded) -> list[str]:
        """Write a ``qa.figures.EncodedFigure`` through the storage API (not yet the
        row: ``save()`` does that and deletes the files it replaced after commit).
        Returns the names stored."""
        self._replaced = [name for name in (self.image.name, self.narrow.name) if name]
        stem = uuid.uuid4().hex
        digest = hashlib.sha256(encoded.full.data).hexdigest()
        name = f"{stem}-{digest[:16]}{encoded.extension}"
        self.image.save(name, ContentFile(encoded.full.data), save=False)
        self.width, self.height, self.sha256 = encoded.full.width, encoded.full.height, digest
        if encoded.narrow:
            narrow_digest = hashlib.sha256(encoded.narrow.data).hexdigest()[:16]
            name = f"{stem}-{encoded.narrow.width}w-{narrow_digest}{encoded.extension}"
            self.narrow.save(name, ContentFile(encoded.narrow.data), save=False)
            self.narrow_width = encoded.narrow.width
        else:
            self.narrow, self.narrow_width = "", 0
        return [name for name in (self.image.name, self.narrow.name) if name]

    def as_ref(self) -> FigureRef:
        return FigureRef(
            url=figure_url(self.image.name),
            width=self.width,
            height=self.height,
            narrow_url=figure_url(self.narrow.name) if self.narrow else None,
            narrow_width=self.narrow_width or None,
            caption=self.caption,
        )

    @property
    def snippet(self) -> str:
        return figure_snippet(self.name, self.alt)


def figure_url(name: str) -> str:
    """The site's own URL of a stored figure file (``figures/…``), whatever the storage."""
    return reverse("qa:figure", kwargs={"path": name.removeprefix("figures/")})


@receiver(post_save, sender=Figure, dispatch_uid="qa.figure_saved")
def _figure_saved(sender, instance, raw=False, **kwargs):
    # The answer's stored HTML holds the figure's URLs and caption.
    if not raw:
        instance.question.save(update_fields=["body", "answer"])


@receiver(post_delete, sender=Figure, dispatch_uid="qa.figure_deleted")
def _figure_deleted(sender, instance, origin=None, **kwargs):
    for name in (instance.image.name, instance.narrow.name):
        if name:
            delete_file_on_commit(instance.image.storage, name)
    # A question being deleted takes its figures with it: nothing to re-render then.
    origin_model = origin.model if isinstance(origin, models.QuerySet) else type(origin)
    if origin_model is not Question:
        question = Question.objects.filter(pk=instance.question_id).first()
        if question is not None:
            question.save(update_fields=["body", "answer"])


class SynonymGroup(models.Model):
    """Terms that mean the same to a reader (``损失函数 = 成本函数 = loss function``):
    a query for any of them also finds the others (``qa.search``)."""

    terms = models.TextField(
        _("terms"),
        help_text=_("One term per line (or separated by commas, 、 or =); a term may be several words."),
    )
    updated = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("synonym group")
        verbose_name_plural = _("synonym groups")

    def __str__(self):
        return " = ".join(self.term_list)

    @property
    def term_list(self) -> list[str]:
        return split_terms(self.terms)


def split_terms(text: str) -> list[str]:
    """The terms of a synonym group as written, without blanks or repeats."""
    import re

    parts = (part.strip() for part in re.split(r"[\n,，;；、=]+", text or ""))
    return list(dict.fromkeys(part for part in parts if part))


class QuestionEmbedding(models.Model):
    """The meaning of one question as a vector (``qa.search.embeddings``).

    ``vector`` holds ``dim`` little-endian float16 values of the L2-normalised
    embedding of the question's title, tags and the opening of its answer,
    made by ``model``; ``content_hash`` says which text it was made from, so
    ``embed_questions`` skips what is current. A new embedding replaces the
    row (a new, higher id), which lets each process load only rows newer than
    the last it has seen."""

    question = models.OneToOneField(Question, on_delete=models.CASCADE, related_name="embedding")
    model = models.CharField(max_length=100)
    dim = models.PositiveSmallIntegerField()
    vector = models.BinaryField()
    content_hash = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("question embedding")

    def __str__(self):
        return f"embedding of {self.question_id} ({self.model})"
