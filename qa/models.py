from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from qa.markdown import excerpt, render_markdown

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


class QuestionQuerySet(models.QuerySet):
    def published(self):
        """Questions visitors may see."""
        return self.filter(is_published=True)

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
    created = models.DateTimeField(_("published at"), default=timezone.now, db_index=True)
    updated = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

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
        if not self.slug:
            self.slug = unicode_slug(self.title)
        update_fields = kwargs.get("update_fields")
        # Rendered HTML is derived data: rebuilt here, the one place that
        # writes it, unless a partial save does not touch the Markdown.
        if update_fields is None or {"body", "answer"} & set(update_fields):
            self.body_html = render_markdown(self.body)
            self.answer_html = render_markdown(self.answer)
            self.excerpt = excerpt(self.answer_html, EXCERPT_LENGTH)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "body_html", "answer_html", "excerpt"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("qa:detail", kwargs={"pk": self.pk, "slug": self.slug or "q"})


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
