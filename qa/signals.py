"""Keep the search index in step with questions and tags.

Hooks run inside the caller's transaction, so an import or an admin save that
rolls back leaves the index as it was. Bulk ``QuerySet.update()`` bypasses them:
search still hides unpublished questions at query time, and
``rebuild_search_index`` repairs anything else.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from qa import search
from qa.models import Question, Tag

# Saves that touch only these fields cannot change what is indexed.
_UNINDEXED_FIELDS = {"views", "updated"}


@receiver(post_save, sender=Question, dispatch_uid="qa.search.question_saved")
def question_saved(sender, instance, update_fields=None, **kwargs):
    if update_fields is not None and set(update_fields) <= _UNINDEXED_FIELDS:
        return
    search.index_question(instance)


# Before the delete: the cascade removes the SearchDocument whose tokens are needed.
@receiver(pre_delete, sender=Question, dispatch_uid="qa.search.question_deleted")
def question_deleted(sender, instance, **kwargs):
    search.remove_question(instance.pk)


@receiver(m2m_changed, sender=Question.tags.through, dispatch_uid="qa.search.tags_changed")
def tags_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action == "pre_clear" and reverse:
        instance._search_reindex = list(instance.questions.values_list("pk", flat=True))
        return
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if not reverse:
        search.index_question(instance)
        return
    pks = pk_set if action != "post_clear" else getattr(instance, "_search_reindex", [])
    _reindex(pks)


@receiver(post_save, sender=Tag, dispatch_uid="qa.search.tag_saved")
def tag_saved(sender, instance, created, **kwargs):
    if not created:
        _reindex(instance.questions.values_list("pk", flat=True))


@receiver(pre_delete, sender=Tag, dispatch_uid="qa.search.tag_deleting")
def tag_deleting(sender, instance, **kwargs):
    instance._search_reindex = list(instance.questions.values_list("pk", flat=True))


@receiver(post_delete, sender=Tag, dispatch_uid="qa.search.tag_deleted")
def tag_deleted(sender, instance, **kwargs):
    _reindex(getattr(instance, "_search_reindex", []))


def _reindex(pks):
    for question in Question.objects.filter(pk__in=list(pks)):
        search.index_question(question)
