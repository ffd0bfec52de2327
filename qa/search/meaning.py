"""Search by meaning: stored question embeddings, the in-process vector index,
and the fusion of semantic with lexical results.

* On save (and on a tag change) a published question's embedding is made
  after the transaction commits, once per question however many saves it had
  (``connect()``); ``deferred()`` skips that for bulk loads, and
  ``embed_pending`` (``manage.py embed_questions``) catches up in batches.
* Vectors live in ``QuestionEmbedding`` rows, so every worker and host builds
  the same index. Each process keeps them in memory (``VectorIndex``): int8
  rows with a scale each, plus sign bits of the centred vectors for a first
  pass at scale; it loads only rows newer than the last it saw, whenever the
  content version changes.
* ``fused`` merges the lexical ranking with the nearest questions by
  reciprocal-rank fusion; questions whose title holds the whole query keep
  the top. Any failure of the model or the index gives the lexical results,
  logged: search never fails because of meaning.
"""

import contextlib
import hashlib
import logging
import re
import threading

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.db.models.signals import m2m_changed, post_save

from qa.markdown import plain_text
from qa.models import Question, QuestionEmbedding
from qa.search import embeddings

logger = logging.getLogger(__name__)

# Nearest questions taken from the vector index per query.
SEMANTIC_K = 30
# Reciprocal-rank fusion, score = Σ weight / (RRF_K + rank), and the cosine below
# which a neighbour is not listed: chosen on the tune half of bench/queries.json
# (python -m bench.quality --tune: weight 1.5 and floors 0.75–0.80 tie there).
MIN_SIMILARITY = 0.78
RRF_K = 10
LEXICAL_WEIGHT = 1.0
SEMANTIC_WEIGHT = 1.5
# Above this many vectors the index finds candidates by Hamming distance first.
EXACT_UP_TO = 5000
RESCORED = 600
QUERY_CACHE_SECONDS = 24 * 3600

_override: embeddings.Embedder | None = None
_state = threading.local()


def embedder() -> embeddings.Embedder | None:
    """The embedder in use: the default model, or a test's stand-in."""
    return _override if _override is not None else embeddings.load_default()


def use_embedder(value: embeddings.Embedder | None) -> None:
    """Use ``value`` instead of the default model (tests); ``None`` restores the default."""
    global _override
    _override = value
    INDEX.forget()


def enabled() -> bool:
    """Whether search uses meaning: the setting is on and the model loads."""
    return bool(settings.ZHIKU_SEMANTIC_SEARCH) and embedder() is not None


# --- storing embeddings -----------------------------------------------------------------------


def question_text(question: Question, tag_names: list[str] | None = None) -> str:
    if tag_names is None:
        tag_names = list(question.tags.values_list("name", flat=True))
    return embeddings.passage_text(
        title=question.title, tag_names=tag_names, answer_text=plain_text(question.answer_html)
    )


def embed_questions(questions: list[tuple[Question, list[str] | None]], *, model=None) -> int:
    """Embed the published ``(question, tag names)`` whose stored embedding is not
    of their current text; returns how many were embedded."""
    model = model or embedder()
    if model is None:
        return 0
    todo = []
    existing = dict(
        QuestionEmbedding.objects.filter(question__in=[q.pk for q, _tags in questions]).values_list(
            "question_id", "content_hash"
        )
    )
    for question, tag_names in questions:
        text = question_text(question, tag_names)
        digest = embeddings.content_hash(model.name, text)
        if existing.get(question.pk) != digest:
            todo.append((question.pk, text, digest))
    if not todo:
        return 0
    vectors = model.embed_passages([text for _pk, text, _digest in todo])
    with transaction.atomic():
        # A new row, not an update: each process loads only rows with ids it has not seen.
        QuestionEmbedding.objects.filter(question__in=[pk for pk, _text, _digest in todo]).delete()
        QuestionEmbedding.objects.bulk_create(
            QuestionEmbedding(
                question_id=pk,
                model=model.name,
                dim=model.dim,
                vector=embeddings.to_bytes(vector),
                content_hash=digest,
            )
            for (pk, _text, digest), vector in zip(todo, vectors, strict=True)
        )
    return len(todo)


def pending(*, batch: int = 32, shard: tuple[int, int] = (0, 1)):
    """Batches of published and scheduled questions (with tag names) in id order, for ``embed_pending``;
    with ``shard`` ``(k, n)``, only those whose id leaves ``k`` divided by ``n``.

    Scheduled ones are embedded ahead of their time, as the lexical index holds
    them: nothing is saved when they go live, and results filter visibility."""
    questions = Question.objects.filter(is_published=True)
    k, n = shard
    if n > 1:
        questions = questions.alias(shard=F("pk") % n).filter(shard=k)
    questions = questions.prefetch_related("tags").order_by("pk")
    chunk = []
    for question in questions.iterator(chunk_size=500):
        chunk.append((question, [tag.name for tag in question.tags.all()]))
        if len(chunk) == batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def embed_pending(*, batch: int = 32, progress=None, shard: tuple[int, int] = (0, 1)) -> int:
    """Embed every published question whose embedding is missing or stale, in
    batches (each its own transaction, so an interrupted run resumes where it
    stopped); ``progress(done, embedded)`` is called after each batch. ``shard``
    ``(k, n)`` takes the k-th of n disjoint shares, for n processes side by side."""
    model = embedder()
    if model is None:
        raise RuntimeError("the embedding model is not available")
    done = embedded = 0
    for chunk in pending(batch=batch, shard=shard):
        embedded += embed_questions(chunk, model=model)
        done += len(chunk)
        if progress is not None:
            progress(done, embedded)
    return embedded


@contextlib.contextmanager
def deferred():
    """Saves inside this block leave their embeddings to ``embed_questions`` (bulk loads)."""
    previous = getattr(_state, "deferred", False)
    _state.deferred = True
    try:
        yield
    finally:
        _state.deferred = previous


def _schedule(pk: int) -> None:
    queue([pk])


def deferring() -> bool:
    """True inside ``deferred()``, or when search by meaning is switched off."""
    return getattr(_state, "deferred", False) or not settings.ZHIKU_SEMANTIC_SEARCH


def queue(pks) -> None:
    """Embed questions ``pks`` once the current transaction commits, as a save
    would (writers that bypass ``save()``, like the bulk importer, call this)."""
    if deferring():
        return
    queued = getattr(_state, "queued", None)
    if queued is None:
        queued = _state.queued = set()
    queued.update(pks)
    # One callback per save, all but the first finding nothing left to do. Ids of a
    # transaction that rolled back stay queued for the next commit, which skips
    # what is gone or current.
    transaction.on_commit(_flush)


def _flush() -> None:
    queued, _state.queued = getattr(_state, "queued", set()), set()
    if not queued or embedder() is None:
        return
    try:
        # Scheduled questions too: nothing is saved when they go live.
        questions = Question.objects.filter(is_published=True, pk__in=queued).prefetch_related("tags")
        embed_questions([(q, [tag.name for tag in q.tags.all()]) for q in questions])
    except Exception:
        # The save itself succeeded; embed_questions repairs what is missing.
        logger.exception("Embedding %d saved question(s) failed; run manage.py embed_questions.", len(queued))


def _question_saved(sender, instance, update_fields=None, raw=False, **kwargs):
    if raw or (update_fields is not None and set(update_fields) <= {"views", "updated"}):
        return
    _schedule(instance.pk)


def _tags_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action in {"post_add", "post_remove", "post_clear"} and not reverse:
        _schedule(instance.pk)


def connect() -> None:
    post_save.connect(_question_saved, sender=Question, dispatch_uid="qa.search.meaning.saved")
    m2m_changed.connect(_tags_changed, sender=Question.tags.through, dispatch_uid="qa.search.meaning.tags")


# --- the in-process index ---------------------------------------------------------------------


class VectorIndex:
    """Every stored embedding of the current model, in memory, by question id."""

    def __init__(self):
        self._lock = threading.Lock()
        self.forget()

    def forget(self) -> None:
        self.version = None
        self.model = None
        self.max_id = 0
        self.pks = np.empty(0, dtype=np.int64)
        self.rows: dict[int, int] = {}
        self.codes = np.empty((0, 0), dtype=np.int8)
        self.scales = np.empty(0, dtype=np.float32)
        self.bits = np.empty((0, 0), dtype=np.uint64)
        self.mean = None
        # Small indexes are searched exactly, over this float32 copy.
        self._dense = None

    def __len__(self):
        return len(self.pks)

    def refresh(self, version: int, model: embeddings.Embedder) -> None:
        """Load the rows written since the last refresh, once per content version: one query."""
        if self.version == version and self.model == model.name:
            return
        with self._lock:
            if self.version == version and self.model == model.name:
                return
            if self.model != model.name:
                self.forget()
            rows = list(
                QuestionEmbedding.objects.filter(id__gt=self.max_id, model=model.name, dim=model.dim)
                .order_by("id")
                .values_list("id", "question_id", "vector")
            )
            if rows:
                self._add(rows, model.dim)
            self.version, self.model = version, model.name

    def _add(self, rows: list, dim: int) -> None:
        vectors = np.frombuffer(b"".join(bytes(vector) for _id, _pk, vector in rows), dtype="<f2")
        vectors = vectors.reshape(len(rows), dim).astype(np.float32)
        peak = np.maximum(np.abs(vectors).max(axis=1), 1e-6)
        codes = np.round(vectors / peak[:, None] * 127).astype(np.int8)
        scales = (peak / 127).astype(np.float32)
        if self.mean is None or len(self.pks) < len(rows):
            # Sign bits of the vectors minus their mean tell neighbours apart far
            # better than raw signs (every e5 vector shares a large common part).
            self.mean = vectors.mean(axis=0)
            if len(self.pks):
                self.bits = _sign_bits(self.codes.astype(np.float32) * self.scales[:, None] - self.mean)
        bits = _sign_bits(vectors - self.mean)
        fresh_pks, fresh = [], []
        for n, (_id, pk, _vector) in enumerate(rows):
            row = self.rows.get(pk)
            if row is not None:  # a newer embedding of a question already loaded
                self.codes[row], self.scales[row], self.bits[row] = codes[n], scales[n], bits[n]
            else:
                self.rows[pk] = len(self.pks) + len(fresh)
                fresh_pks.append(pk)
                fresh.append(n)
        if fresh:
            self.pks = np.concatenate([self.pks, np.asarray(fresh_pks, dtype=np.int64)])
            self.codes = codes[fresh] if not len(self.codes) else np.concatenate([self.codes, codes[fresh]])
            self.scales = np.concatenate([self.scales, scales[fresh]])
            self.bits = bits[fresh] if not len(self.bits) else np.concatenate([self.bits, bits[fresh]])
        self.max_id = max(self.max_id, rows[-1][0])
        self._dense = None

    def vector(self, pk: int) -> np.ndarray | None:
        row = self.rows.get(pk)
        if row is None:
            return None
        return self.codes[row].astype(np.float32) * self.scales[row]

    def nearest(self, query: np.ndarray, k: int, *, exclude: int | None = None) -> list[tuple[int, float]]:
        """The ``k`` questions closest to ``query`` (cosine), closest first."""
        n = len(self.pks)
        if not n:
            return []
        query = np.asarray(query, dtype=np.float32)
        if n <= EXACT_UP_TO:
            dense = self._dense
            if dense is None:
                dense = self._dense = self.codes.astype(np.float32) * self.scales[:, None]
            candidates = np.arange(n)
            scores = dense @ query
        else:
            distance = np.bitwise_count(self.bits ^ _sign_bits(query - self.mean)[0]).sum(
                axis=1, dtype=np.uint16
            )
            candidates = np.argpartition(distance, RESCORED)[:RESCORED]
            scores = (self.codes[candidates].astype(np.float32) @ query) * self.scales[candidates]
        order = np.argsort(-scores, kind="stable")
        found = []
        for i in order:
            pk = int(self.pks[candidates[i]])
            if pk != exclude:
                found.append((pk, float(scores[i])))
                if len(found) == k:
                    break
        return found


def _sign_bits(vectors: np.ndarray) -> np.ndarray:
    vectors = np.atleast_2d(vectors)
    if not vectors.size:
        return np.empty((len(vectors), 0), dtype=np.uint64)
    packed = np.packbits(vectors > 0, axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return packed.view(np.uint64)


INDEX = VectorIndex()


# --- searching --------------------------------------------------------------------------------


RELATED_K = 10


def closest(pk: int, *, version: int) -> dict[int, float]:
    """Questions closest in meaning to question ``pk`` (cosine by id), from the index;
    empty when meaning is off, the question has no embedding, or anything fails."""
    if not enabled():
        return {}
    try:
        INDEX.refresh(version, embedder())
        vector = INDEX.vector(pk)
        if vector is None:
            return {}
        return dict(INDEX.nearest(vector / max(float(np.linalg.norm(vector)), 1e-9), RELATED_K, exclude=pk))
    except Exception:
        logger.exception("Related questions by meaning failed; tags and words only.")
        return {}


def query_vector(text: str, model: embeddings.Embedder) -> np.ndarray:
    """The embedding of query ``text``, cached whatever the content version."""
    cut = embeddings.clean(text, embeddings.MAX_QUERY_CHARS)
    key = "qa:search:qvec:" + hashlib.blake2b(f"{model.name}\n{cut}".encode(), digest_size=16).hexdigest()
    found = cache.get(key)
    if found is not None:
        return embeddings.from_bytes(found, model.dim)
    vector = model.embed_query(cut)
    cache.set(key, embeddings.to_bytes(vector), QUERY_CACHE_SECONDS)
    return vector


def semantic_ids(text: str, *, version: int, tag_id: int | None = None, k: int = SEMANTIC_K) -> list[int]:
    """Published questions closest in meaning to ``text``, closest first."""
    model = embedder()
    if model is None:
        return []
    INDEX.refresh(version, model)
    if not len(INDEX):
        return []
    found = [pk for pk, score in INDEX.nearest(query_vector(text, model), k) if score >= MIN_SIMILARITY]
    if not found:
        return []
    visible = Question.objects.published().filter(pk__in=found)
    if tag_id is not None:
        visible = visible.filter(tags=tag_id)
    shown = set(visible.values_list("pk", flat=True))
    return [pk for pk in found if pk in shown]


_IDENTIFIER = re.compile(r"[a-z]*[0-9_()+#][a-z0-9_()+#]*|[a-z]+[0-9][a-z0-9]*", re.IGNORECASE)


def worth_asking(text: str, leading: int) -> bool:
    """Whether the model can change the answer: not for one identifier (``zk000042``,
    ``pg_trgm``, ``F()``), which only its own words find."""
    return not _IDENTIFIER.fullmatch(text.strip())


def fuse(lexical: list[int], semantic: list[int], *, leading: int = 0) -> list[int]:
    """Reciprocal-rank fusion of two rankings; the first ``leading`` lexical ids stay on top."""
    scores: dict[int, float] = {}
    for weight, ranking in ((LEXICAL_WEIGHT, lexical), (SEMANTIC_WEIGHT, semantic)):
        for rank, pk in enumerate(ranking, start=1):
            scores[pk] = scores.get(pk, 0.0) + weight / (RRF_K + rank)
    top = lexical[:leading]
    first_seen = {pk: n for n, pk in enumerate(dict.fromkeys([*lexical, *semantic]))}
    rest = sorted(set(scores) - set(top), key=lambda pk: (-round(scores[pk], 12), first_seen[pk]))
    return [*top, *rest]


def fused(text: str, lexical: list[int], *, tag_id: int | None, version: int, leading: int = 0) -> list[int]:
    """``lexical`` merged with the questions found by meaning; ``lexical`` alone if that fails."""
    try:
        semantic = semantic_ids(text, version=version, tag_id=tag_id)
    except Exception:
        logger.exception("Search by meaning failed; lexical results only.")
        return lexical
    if not semantic:
        return lexical
    return fuse(lexical, semantic, leading=leading)[: max(len(lexical), 200)]
