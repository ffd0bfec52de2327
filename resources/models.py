import hashlib
import uuid
from pathlib import PurePath

import reversion
from django.db import models
from django.db.models import F, FilteredRelation, Prefetch, Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qa.markdown import excerpt, render_markdown
from qa.models import Question, delete_file_on_commit, published_condition, unicode_slug


def resource_upload_to(instance, filename: str) -> str:
    """A generated, collision-free storage name; the original name is kept on the row."""
    suffix = PurePath(filename).suffix.lower()[:16]
    now = timezone.now()
    return f"resources/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"


def file_type_of(filename: str) -> str:
    """The badge shown for a file: its extension without the dot, lower case."""
    return PurePath(filename).suffix.lower().lstrip(".")[:10]


# How many resources a "latest resources" panel lists.
LATEST_RESOURCES = 5


class ResourceQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True)

    def recommended_by(self, question):
        """Published resources a question recommends, in the editor's order."""
        return (
            self.published()
            .filter(recommendations__question=question)
            .order_by("recommendations__position", "recommendations__id")
        )

    def newest(self, limit: int = LATEST_RESOURCES):
        """The ``limit`` newest published resources: the "latest resources" panel of every page."""
        return self.published().sorted_by("new")[:limit]

    def for_question_page(self, question, *, latest: int = LATEST_RESOURCES):
        """What ``recommended_by(question)`` gives together with ``newest(latest)``, as one QuerySet.

        Each row carries ``link_position`` and ``link_id``, both None for a
        resource the question does not recommend."""
        return (
            self.published()
            .annotate(
                link=FilteredRelation("recommendations", condition=Q(recommendations__question=question))
            )
            .annotate(link_position=F("link__position"), link_id=F("link__id"))
            .filter(Q(link_id__isnull=False) | Q(pk__in=self.newest(latest).values("pk")))
        )

    def with_recommending_questions(self):
        """Each resource's published recommending questions, in order, prefetched as ``published_links``."""
        links = Recommendation.objects.filter(published_condition("question__")).select_related("question")
        return self.prefetch_related(Prefetch("recommendations", queryset=links, to_attr="published_links"))

    def sorted_by(self, sort: str):
        orderings = {"new": ["-created", "-id"], "downloads": ["-downloads", "-created", "-id"]}
        return self.order_by(*orderings.get(sort, orderings["new"]))


@reversion.register(fields=["title", "description"], ignore_duplicates=True)
class Resource(models.Model):
    key = models.CharField(_("import key"), max_length=100, unique=True, null=True, blank=True)
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, allow_unicode=True, blank=True)
    description = models.TextField(_("description (Markdown)"), blank=True)
    description_html = models.TextField(editable=False, blank=True)
    summary = models.CharField(editable=False, max_length=200, blank=True)
    file = models.FileField(_("file"), upload_to=resource_upload_to, max_length=255)
    original_name = models.CharField(_("original file name"), max_length=255, blank=True)
    file_type = models.CharField(_("file type"), max_length=10, blank=True, db_index=True)
    size = models.PositiveBigIntegerField(_("size in bytes"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    downloads = models.PositiveIntegerField(_("downloads"), default=0)
    is_published = models.BooleanField(_("published"), default=True, db_index=True)
    created = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated = models.DateTimeField(_("updated at"), auto_now=True)
    questions = models.ManyToManyField(
        Question,
        through="Recommendation",
        related_name="resources",
        blank=True,
        verbose_name=_("recommended by questions"),
    )

    objects = ResourceQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="resources_resource_title_not_empty"),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unicode_slug(self.title)
        self.description_html = render_markdown(self.description)
        self.summary = excerpt(self.description_html, 160)
        replaced = None
        if self.file and not self.file._committed:
            # A new upload: record what it is before storage renames it.
            self.original_name = PurePath(self.file.name).name
            self.file_type = file_type_of(self.original_name)
            self.size, self.sha256 = _size_and_digest(self.file)
            if self.pk:
                replaced = Resource.objects.filter(pk=self.pk).values_list("file", flat=True).first()
        super().save(*args, **kwargs)
        if replaced and replaced != self.file.name:
            delete_file_on_commit(self.file.storage, replaced)

    def get_absolute_url(self):
        return reverse("resources:detail", kwargs={"pk": self.pk, "slug": self.slug or "r"})

    def get_download_url(self):
        return reverse("resources:download", kwargs={"pk": self.pk})

    def increment_downloads(self) -> None:
        """Add one download atomically in the database; concurrent calls never lose one."""
        Resource.objects.filter(pk=self.pk).update(downloads=F("downloads") + 1)


@receiver(post_delete, sender=Resource, dispatch_uid="resources_delete_file")
def _delete_stored_file(sender, instance, **kwargs):
    if instance.file.name:
        delete_file_on_commit(instance.file.storage, instance.file.name)


def _size_and_digest(file) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return size, digest.hexdigest()


class Recommendation(models.Model):
    """A question recommends a resource; ``position`` orders them on the question page."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="recommendations")
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="recommendations")
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        constraints = [
            models.UniqueConstraint(fields=["question", "resource"], name="resources_recommendation_unique"),
        ]

    def __str__(self):
        return f"{self.question_id} → {self.resource_id}"
