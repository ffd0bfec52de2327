"""The one content version that every content cache keys on (SPEC §13).

Rendered question pages, search ids and result pages, similar-question lists
and API pages are cached under keys that carry this number. Any save or delete
of a question, tag, curated link, resource or recommendation, and any change
to their many-to-many links, bumps it inside the writer's transaction; the
next read in any worker process sees the new number and so a new key. Nothing
deletes cache entries to stay fresh: entries under an old number are never
read again and expire.

Readers take the version *before* the content it stamps (the question page
reads it with the page state), so a write that lands between the two reads
can only store newer content under an older number, never older content under
the newer one.
"""

from django.db.models import F, Model, Subquery
from django.db.models.signals import m2m_changed, post_delete, post_save

from qa.models import ContentVersion

_ROW = 1


def current() -> int:
    """The content version now: one primary-key read."""
    return ContentVersion.objects.filter(pk=_ROW).values_list("value", flat=True).first() or 0


def subquery() -> Subquery:
    """``current()`` as an expression, to read it in the same query as something else."""
    return Subquery(ContentVersion.objects.filter(pk=_ROW).values("value")[:1])


def bump() -> None:
    """Move every content cache on to a new key, inside the caller's transaction."""
    if not ContentVersion.objects.filter(pk=_ROW).update(value=F("value") + 1):
        # The row is made by a migration; a database flushed by a test run lacks it.
        ContentVersion.objects.get_or_create(pk=_ROW, defaults={"value": 1})


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):  # loaddata: no signals-derived state
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and set(update_fields) <= _COUNTERS:
        return
    bump()


def _links_changed(sender, action, **kwargs) -> None:
    if action in {"post_add", "post_remove", "post_clear"}:
        bump()


# Counters change all the time and are read fresh, never from a cached page.
_COUNTERS = {"views", "downloads"}


def watch(*models: type[Model]) -> None:
    """Bump the version on every save, delete and many-to-many change of ``models``."""
    for model in models:
        uid = f"qa.freshness.{model._meta.label_lower}"
        post_save.connect(_changed, sender=model, dispatch_uid=f"{uid}.saved", weak=False)
        post_delete.connect(_changed, sender=model, dispatch_uid=f"{uid}.deleted", weak=False)
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            m2m_changed.connect(
                _links_changed, sender=through, dispatch_uid=f"{uid}.{field.name}", weak=False
            )
