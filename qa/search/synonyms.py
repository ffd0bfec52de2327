"""The site's synonym groups (``SynonymGroup``, edited in the admin) as the query parser uses them.

The vocabulary's ``#synonyms`` row counts the groups, and search reads it with
the rest of the vocabulary: a site without synonyms never queries them. With
some, each process reads them once per content version (a saved group bumps
it), so a search pays one query after an edit and none otherwise."""

import threading

from django.db.models.signals import post_delete, post_save

from qa.models import SearchTerm, SynonymGroup, split_terms
from qa.search.tokenize import Synonyms

SYNONYMS = "#synonyms"
NONE = Synonyms.from_groups([])

_lock = threading.Lock()
_loaded: tuple[int, Synonyms] | None = None


def for_version(version: int, count: int = 1) -> Synonyms:
    """The synonym table at content ``version``, given the ``count`` of groups
    (the ``#synonyms`` row)."""
    global _loaded
    if count <= 0:
        return NONE
    loaded = _loaded
    if loaded is not None and loaded[0] == version:
        return loaded[1]
    synonyms = Synonyms.from_groups(
        split_terms(terms) for terms in SynonymGroup.objects.values_list("terms", flat=True)
    )
    with _lock:
        _loaded = (version, synonyms)
    return synonyms


def forget() -> None:
    """Drop what this process loaded (tests, where a rolled-back database reuses versions)."""
    global _loaded
    _loaded = None


def add_groups(groups: list[list[str]]) -> int:
    """Create the synonym groups among ``groups`` that do not exist yet (an
    import's ``synonyms`` section); returns how many were created. Groups
    staff made or edited are left alone."""
    existing = {frozenset(group.term_list) for group in SynonymGroup.objects.all()}
    created = 0
    for terms in groups:
        if len(terms) > 1 and frozenset(terms) not in existing:
            SynonymGroup.objects.create(terms="\n".join(terms))
            existing.add(frozenset(terms))
            created += 1
    return created


def count_groups(*args, **kwargs) -> None:
    """Keep the ``#synonyms`` vocabulary row equal to the number of groups."""
    SearchTerm.objects.update_or_create(term=SYNONYMS, defaults={"df": SynonymGroup.objects.count()})


def connect() -> None:
    post_save.connect(count_groups, sender=SynonymGroup, dispatch_uid="qa.search.synonyms.saved")
    post_delete.connect(count_groups, sender=SynonymGroup, dispatch_uid="qa.search.synonyms.deleted")
