"""Version history of questions and resources (SPEC §5a), kept by django-reversion.

A model registered with ``reversion.register(fields=...)`` gets one ``Version``
per admin save, import or restore that changes one of those fields; the
revision around it says who (the admin user) or what (``import: FILE``) made
it. This package reads those versions for the admin's history pages: which
fields each version changed, a word-level diff of any version against the
current object (``qa.history.diff``), ``restore`` as a new version, and the
number an edit form was opened at (``latest_version_id``), which refuses a save
on top of someone else's newer one.
"""

import json
from collections import defaultdict
from dataclasses import dataclass

import reversion
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.core.serializers.python import Serializer as PythonSerializer
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from reversion.models import Revision, Version
from reversion.revisions import _get_options

from qa.history.diff import word_diff

__all__ = ["BulkRecorder", "FieldDiff", "RestoreError", "field_diffs", "restore", "versions_of", "word_diff"]


class RestoreError(Exception):
    """A restore that cannot go ahead (a version of another object, or none at all)."""


def versions_of(obj) -> models.QuerySet:
    """The versions of ``obj``, newest first, with their revisions and users."""
    return Version.objects.get_for_object(obj).select_related("revision__user").order_by("-pk")


def latest_version_id(obj) -> int:
    """The id of the newest version of ``obj`` (0 when it has none): the edit form's stamp."""
    return Version.objects.get_for_object(obj).order_by("-pk").values_list("pk", flat=True).first() or 0


def author(version: Version) -> str:
    """Who made ``version``: the user, else the revision's comment (``import: demo.json``)."""
    user = version.revision.user
    return user.get_username() if user is not None else version.revision.comment or "—"


class _GivenRelationsSerializer(PythonSerializer):
    """Django's serializer, taking many-to-many values from ``related`` (field name →
    object id → related ids) instead of a query per object."""

    def __init__(self, related: dict[str, dict]):
        super().__init__()
        self.related = related

    def handle_m2m_field(self, obj, field):
        self._current[field.name] = self.related[field.name].get(obj.pk, [])


def _serialized(objects: list, options) -> list[str]:
    """Each object's data as ``reversion.add_to_revision`` stores it (the JSON
    serializer's list of one object), from one pass of the serializer and one
    query per many-to-many field."""
    if options.format != "json" or options.use_natural_foreign_keys:
        return [
            serializers.serialize(
                options.format,
                [obj],
                fields=options.fields,
                use_natural_foreign_keys=options.use_natural_foreign_keys,
            )
            for obj in objects
        ]
    related = {}
    for name in options.fields:
        field = objects[0]._meta.get_field(name)
        if field.many_to_many:
            through = field.remote_field.through
            owner, target = field.m2m_field_name(), field.m2m_reverse_field_name()
            rows = through.objects.filter(**{f"{owner}__in": [obj.pk for obj in objects]})
            related[name] = defaultdict(list)
            for pk, other in rows.order_by("pk").values_list(f"{owner}_id", f"{target}_id"):
                related[name][pk].append(other)
    dumped = _GivenRelationsSerializer(related).serialize(objects, fields=options.fields)
    return [json.dumps([item], cls=DjangoJSONEncoder, ensure_ascii=False) for item in dumped]


class BulkRecorder:
    """Versions of objects written in bulk (which sends no signals), all in one
    revision whose comment names what wrote them: what ``reversion.create_revision``
    records for a save of each, in a few statements per call instead of a few
    queries per object. As there, an object whose tracked fields equal its
    latest version's gets no new one (``ignore_duplicates``)."""

    def __init__(self, comment: str):
        self.comment = comment
        self.revision: Revision | None = None

    def record(self, objects) -> int:
        """Record a version of each of ``objects`` (one model); returns how many."""
        objects = list(objects)
        if not objects:
            return 0
        model = type(objects[0])
        options = _get_options(model)
        content_type = ContentType.objects.get_for_model(model)
        versions = [
            Version(
                content_type=content_type,
                object_id=str(getattr(obj, options.object_id_field)),
                db=DEFAULT_DB_ALIAS,
                format=options.format,
                serialized_data=data,
                object_repr=str(obj),
            )
            for obj, data in zip(objects, _serialized(objects, options), strict=True)
        ]
        if options.ignore_duplicates:
            versions = self._changed(model, versions)
        if versions:
            if self.revision is None:
                self.revision = Revision.objects.create(date_created=timezone.now(), comment=self.comment)
            for version in versions:
                version.revision = self.revision
            Version.objects.bulk_create(versions)
        return len(versions)

    @staticmethod
    def _changed(model, versions: list[Version]) -> list[Version]:
        """``versions`` less those equal to their object's latest stored version."""
        stored = Version.objects.get_for_model(model).filter(object_id__in=[v.object_id for v in versions])
        latest: dict[str, Version] = {}
        for version in stored.order_by("pk"):
            latest[version.object_id] = version
        return [
            v
            for v in versions
            if v.object_id not in latest or latest[v.object_id]._local_field_dict != v._local_field_dict
        ]


def tracked_fields(model) -> list[models.Field]:
    return [model._meta.get_field(name) for name in _get_options(model).fields]


def current_values(obj) -> dict:
    """The tracked fields of ``obj`` as they are stored now, keyed like ``Version.field_dict``."""
    values = {}
    for field in tracked_fields(type(obj)):
        if field.many_to_many:
            values[field.attname] = list(getattr(obj, field.name).values_list("pk", flat=True))
        else:
            values[field.attname] = getattr(obj, field.attname)
    return values


def changed_fields(model, old: dict | None, new: dict) -> list[str]:
    """Verbose names of the tracked fields that differ between two field dicts."""
    names = []
    for field in tracked_fields(model):
        before = None if old is None else old.get(field.attname)
        after = new.get(field.attname)
        if field.many_to_many:
            before, after = sorted(before or []), sorted(after or [])
        if old is None or before != after:
            names.append(str(field.verbose_name))
    return names


@dataclass
class FieldDiff:
    name: str
    html: str  # escaped text with <ins>/<del>
    changed: bool


def display_value(field: models.Field, value, names: dict | None = None) -> str:
    """A field's value as text to compare word by word."""
    if field.many_to_many:
        names = names if names is not None else {}
        return " ".join(sorted(names.get(pk, f"#{pk}") for pk in value or []))
    if isinstance(field, models.BooleanField):
        return _("yes") if value else _("no")
    if value is None:
        return ""
    return str(value)


def field_diffs(model, old: dict, new: dict) -> list[FieldDiff]:
    """Each tracked field as a word-level diff from ``old`` to ``new``."""
    diffs = []
    for field in tracked_fields(model):
        names = None
        if field.many_to_many:
            pks = {*(old.get(field.attname) or []), *(new.get(field.attname) or [])}
            names = {o.pk: str(o) for o in field.related_model._default_manager.filter(pk__in=pks)}
        before = display_value(field, old.get(field.attname), names)
        after = display_value(field, new.get(field.attname), names)
        diffs.append(FieldDiff(str(field.verbose_name), word_diff(before, after), before != after))
    return diffs


def version_of(obj, version_id) -> Version:
    """Version ``version_id`` of ``obj``; RestoreError when there is no such version of it."""
    try:
        version = Version.objects.get(pk=int(version_id))
    except (TypeError, ValueError, Version.DoesNotExist):
        raise RestoreError(_("There is no version %(id)s.") % {"id": version_id}) from None
    if version.object_id != str(obj.pk) or version.content_type.model_class() is not type(obj):
        raise RestoreError(
            _("Version %(id)s belongs to another %(kind)s, not to “%(object)s”; nothing was changed.")
            % {"id": version.pk, "kind": obj._meta.verbose_name, "object": obj}
        )
    return version


def restore(obj, version_id, *, user) -> None:
    """Put the tracked fields of ``obj`` back as version ``version_id`` had them,
    as a new version by ``user``. Raises RestoreError, changing nothing, when
    ``version_id`` is not a version of ``obj``."""
    version = version_of(obj, version_id)
    values = version.field_dict
    with transaction.atomic(), reversion.create_revision():
        reversion.set_user(user)
        reversion.set_comment(_("Restored version %(id)s") % {"id": version.pk})
        m2m = {}
        for field in tracked_fields(type(obj)):
            if field.attname not in values:
                continue
            if field.many_to_many:
                m2m[field] = values[field.attname]
            else:
                setattr(obj, field.attname, values[field.attname])
        # save() rebuilds derived data (rendered HTML, index, caches) as any edit does.
        obj.save()
        for field, pks in m2m.items():
            getattr(obj, field.name).set(field.related_model._default_manager.filter(pk__in=pks))
