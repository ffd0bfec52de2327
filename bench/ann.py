"""An approximate nearest-neighbour index for search by meaning at a million questions.

Part of ``make bench-scale`` (docs/performance.md, "At scale"); not in ``make test`` or CI.

A million stored embeddings would take the site's model about 80 CPU-hours on this
machine, so the vectors here are synthetic: each is one of ``--base`` real passage
embeddings (generated questions of bench.content, embedded by the site's model)
plus Gaussian noise, normalised. That makes clusters of near-duplicates, as a site
with many similar questions has, and it keeps the figures honest about what they
measure: the index's build time, memory and query latency at this size, and its
recall against exact search over the same vectors, not the quality of meaning search.

    .venv/bin/python -m bench.ann --vectors 1000000

Compared: exact search (one matrix product over float16 vectors, what a brute-force
scan costs at this size) and an HNSW graph (usearch, vectors stored as int8).
"""

import argparse
import os
import resource
import statistics
import sys
import time

import numpy as np

DIM = 384
K = 30  # the nearest questions meaning search takes per query (qa.search.meaning.SEMANTIC_K)


def base_vectors(count: int) -> np.ndarray:
    """Real passage embeddings of ``count`` generated questions."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()  # bench.content reads the models' constants
    from bench.content import ACTIONS, TOPICS, VERBS, WORDS
    from qa.search.embeddings import E5Embedder

    texts = [
        f"{VERBS[n % len(VERBS)]}用 {TOPICS[n % len(TOPICS)]} {ACTIONS[(n * 7) % len(ACTIONS)]}？"
        f"{'、'.join(WORDS[(n + i) % len(WORDS)] for i in range(6))}"
        for n in range(count)
    ]
    return E5Embedder().embed_passages(texts)


def around(centres: np.ndarray, count: int, *, noise: float, rng) -> np.ndarray:
    """``count`` unit vectors, each a random one of ``centres`` plus Gaussian noise."""
    vectors = centres[rng.integers(0, len(centres), count)] + rng.normal(0, noise, (count, centres.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv=None) -> int:
    from usearch.index import Index

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--base", type=int, default=200, help="real embeddings the vectors cluster around")
    parser.add_argument("--per-topic", type=int, default=50, help="questions around each synthetic topic")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    base = base_vectors(args.base)
    print(f"base: {args.base} real embeddings in {time.perf_counter() - start:.0f} s", flush=True)
    # Two levels: topics around the real embeddings, questions around the topics, so a
    # query's nearest 30 are mostly the ~50 questions of its topic.
    rng = np.random.default_rng(1)
    topics = around(base, max(1, args.vectors // args.per_topic), noise=0.05, rng=rng)
    vectors = around(topics, args.vectors, noise=0.02, rng=rng)
    queries = around(topics, args.queries, noise=0.02, rng=rng)
    stored = vectors.astype(np.float16)  # as QuestionEmbedding keeps them

    exact_ms, truth = [], []
    for query in queries:
        t = time.perf_counter()
        scores = vectors @ query
        top = np.argpartition(-scores, K)[:K]
        exact_ms.append((time.perf_counter() - t) * 1000)
        truth.append(set(top.tolist()))

    index = Index(ndim=DIM, metric="cos", dtype="i8", connectivity=16, expansion_add=128, expansion_search=64)
    t = time.perf_counter()
    index.add(np.arange(len(vectors)), vectors, threads=os.cpu_count() or 1)
    build_s = time.perf_counter() - t
    ann_ms, hits = [], 0
    for query, expected in zip(queries, truth, strict=True):
        t = time.perf_counter()
        found = index.search(query, K)
        ann_ms.append((time.perf_counter() - t) * 1000)
        hits += len(expected & set(found.keys.tolist()))
    print(f"\n| figure ({args.vectors:,} vectors of {DIM} dimensions) | value |\n|---|---|")
    print(f"| stored vectors (float16) | {stored.nbytes / 2**20:,.0f} MiB |")
    print(f"| exact search over float32, top {K} (p50 / p95 ms) | {statistics.median(exact_ms):.1f} / "
          f"{percentile(exact_ms, 0.95):.1f} |")  # fmt: skip
    print(f"| HNSW build (usearch, int8, M=16, {os.cpu_count()} threads) | {build_s:.0f} s |")
    print(f"| HNSW memory (index.memory_usage) | {index.memory_usage / 2**20:,.0f} MiB |")
    print(f"| process peak RSS (all of the above held at once) | {rss_mib():,.0f} MiB |")
    print(f"| HNSW search, top {K} (p50 / p95 ms) | {statistics.median(ann_ms):.2f} / "
          f"{percentile(ann_ms, 0.95):.2f} |")  # fmt: skip
    print(f"| HNSW recall@{K} against exact | {hits / (K * len(queries)):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
