"""Forked worker processes for the CPU-bound part of writing many questions at
once: rendering Markdown and computing search tokens (``qa.bulk``'s import,
``qa.search.index.rebuild_index``).

``mapper(workers, count)`` gives a function that maps a module-level function
over a list in order, through a pool of ``workers`` processes when ``count``
items are worth starting one (``PARALLEL_FROM``), else in this process. The pool
starts at once, so the workers load the segmenter while the caller builds its
jobs. They are forked (no re-import of Django) and never touch the database
connection; they end with ``os._exit``, so they do not close it either.
"""

import contextlib
import functools
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator

from qa.models import Tag
from qa.search import tokenize

# Below this many items the work stays in this process: starting workers costs more.
PARALLEL_FROM = 400
# A worker collects reference cycles itself, after this many items.
COLLECT_EVERY = 1000
_done_here = 0

Mapper = Callable[[Callable, list], Iterator]


def default_workers() -> int:
    """One process per core this one may use, at most four."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, 4)


def _start(words: list[str] | None) -> None:
    if words is not None:
        # Each worker loads the segmenter itself, beside the others, from the tag
        # names read by the parent (the database connection is the parent's).
        tokenize.set_word_source(lambda: words)
    tokenize.warm_up()
    # Rendering makes short-lived cycles by the thousand, and each automatic
    # collection would walk the segmenter's dictionary too: the loaded state is
    # set aside for good and garbage is collected every COLLECT_EVERY items
    # (a tenth less CPU for an import, memory flat).
    gc.freeze()
    gc.disable()


def _counted(function: Callable, item):
    global _done_here
    _done_here += 1
    if _done_here % COLLECT_EVERY == 0:
        gc.collect()
    return function(item)


@contextlib.contextmanager
def mapper(workers: int, count: int) -> Iterator[Mapper]:
    """``map(function, items)`` in order, run by ``workers`` processes when ``count`` is large."""
    if workers <= 1 or count < PARALLEL_FROM:
        yield map
        return
    words = None if tokenize.loaded() else list(Tag.objects.values_list("name", flat=True))
    with multiprocessing.get_context("fork").Pool(workers, _start, (words,)) as pool:
        yield lambda function, items: pool.imap(functools.partial(_counted, function), items, chunksize=64)


@contextlib.contextmanager
def fewer_collections():
    """Collect less often while many objects are built that all live to the end of
    the caller's work (each collection of the oldest generation walks all of them)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
