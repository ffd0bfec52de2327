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

Scheduled publishing changes what visitors see with no write at all: a
question whose ``publish_at`` passes becomes visible by the database clock
(``published_condition``). So the version is the stored number *plus the
number of publication times passed*: every save of a question scheduled for
later records its time as a ``PendingPublication`` row, and the version read
counts those rows with ``at <= NOW()`` in the same statement. The moment a
time passes, every reader in every process computes a new number, with no
command, no cron job and no extra query. The next write (``bump``) folds the
passed rows into the stored number and deletes them, so the count only ever
covers the few times passed since the last write.
"""

from django.db import transaction
from django.db.models import F, Func, IntegerField, Model, Subquery
from django.db.models.functions import Now
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from qa.models import ContentVersion, PendingPublication

_ROW = 1


def _passed(cutoff=None) -> Subquery:
    """How many publication times are at or before ``cutoff`` (the database's
    now by default), as an expression."""
    # COUNT as a plain function, not an aggregate: no GROUP BY, always one row (0 when none).
    count = Func(F("pk"), function="COUNT", output_field=IntegerField())
    rows = PendingPublication.objects.filter(at__lte=Now() if cutoff is None else cutoff)
    return Subquery(rows.order_by().annotate(n=count).values("n"))


def _version():
    return ContentVersion.objects.filter(pk=_ROW).annotate(version=F("value") + _passed())


def current() -> int:
    """The content version now: one primary-key read."""
    return _version().values_list("version", flat=True).first() or 0


def subquery() -> Subquery:
    """``current()`` as an expression, to read it in the same query as something else."""
    return Subquery(_version().values("version")[:1])


def bump() -> None:
    """Move every content cache on to a new key, inside the caller's transaction."""
    # The stored number takes over the passed publication times, one for one
    # and in one transaction, so the version read never goes back.
    cutoff = timezone.now()
    with transaction.atomic(savepoint=False):
        if not ContentVersion.objects.filter(pk=_ROW).update(value=F("value") + 1 + _passed(cutoff)):
            # The row is made by a migration; a database flushed by a test run lacks it.
            ContentVersion.objects.get_or_create(pk=_ROW, defaults={"value": 1})
        PendingPublication.objects.filter(at__lte=cutoff).delete()


def schedule(at) -> None:
    """Record that content becomes visible by itself at ``at``. Saves of watched
    models with a future ``publish_at`` call it; a write that bypasses ``save()``
    (``QuerySet.update``) must call it too, and ``bump()``."""
    PendingPublication.objects.create(at=at)


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):  # loaddata: no signals-derived state
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and set(update_fields) <= _COUNTERS:
        return
    bump()
    at = getattr(kwargs.get("instance"), "publish_at", None)
    if at is not None and at > timezone.now():
        schedule(at)


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
