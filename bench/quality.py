"""Search quality on our own labelled queries (bench/queries.json): nDCG@10 and
recall@5 of lexical, semantic and hybrid search, on each split.

A fresh SQLite database gets the demo content (embedded as ``import_content``
does) and ``--distractors`` generated questions (bench/content.py, embedded
with ``embed_questions``), so the labelled answers compete with hundreds of
others. Parameters are chosen on the ``tune`` split (``--tune`` prints the
grid); the ``test`` split is only reported.

    python -m bench.quality [--distractors 300] [--tune] [--json]
"""

import argparse
import itertools
import json
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "bench" / "queries.json"
FLOORS = (0.75, 0.78, 0.8, 0.82, 0.84)


def ndcg(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    gain = sum(1 / math.log2(i + 2) for i, key in enumerate(ranked[:k]) if key in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return gain / ideal if ideal else 0.0


def recall(ranked: list[str], relevant: set[str], k: int = 5) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def build(distractors: int) -> None:
    from django.core.management import call_command

    from bench.content import generate
    from qa.importing import import_content
    from qa.search import meaning

    call_command("migrate", verbosity=0)
    if distractors:
        with meaning.deferred():
            generate(questions=distractors, resources=0, curated=0, recommended=0)
        meaning.embed_pending(batch=32)
    import_content(path=ROOT / "qa" / "demo" / "demo.json")
    meaning.embed_pending(batch=32)  # the demo is embedded on import; this only checks


def rankings(items: list[dict]) -> list[dict]:
    """Per query: lexical ids, semantic (id, score) list and the lexical lead, as keys."""
    from qa import freshness
    from qa.models import Question
    from qa.search import lexical, meaning

    model = meaning.embedder()
    meaning.INDEX.refresh(freshness.current(), model)
    keys = dict(Question.objects.values_list("pk", "key"))
    out = []
    for item in items:
        ids, leading = lexical(item["query"])
        nearest = meaning.INDEX.nearest(meaning.query_vector(item["query"], model), 50)
        out.append(
            {
                **item,
                "lexical": [keys[pk] for pk in ids],
                "leading": leading,
                "semantic": [(keys[pk], score) for pk, score in nearest],
            }
        )
    return out


def hybrid(row: dict, *, rrf_k: int, weight: float, floor: float, skip: bool = True) -> list[str]:
    from qa.search import meaning

    if skip and not meaning.worth_asking(row["query"], row["leading"]):
        return row["lexical"]
    semantic = [key for key, score in row["semantic"][: meaning.SEMANTIC_K] if score >= floor]
    saved = meaning.RRF_K, meaning.SEMANTIC_WEIGHT
    meaning.RRF_K, meaning.SEMANTIC_WEIGHT = rrf_k, weight
    try:
        return meaning.fuse(row["lexical"], semantic, leading=row["leading"]) if semantic else row["lexical"]
    finally:
        meaning.RRF_K, meaning.SEMANTIC_WEIGHT = saved


def condensed(ranked: list[str], relevant: set[str]) -> list[str]:
    """``ranked`` without the generated questions nobody judged for this query.

    Generated questions repeat the demo's subjects ("如何用 Pillow 做灰度反色？（54）"),
    so many are relevant but unlabelled; scoring condensed lists (unjudged
    documents removed, as IR evaluation does with incomplete judgements) keeps
    them from counting as misses while they still compete inside the fusion."""
    return [key for key in ranked if not key.startswith("bench-") or key in relevant]


def scores(rows: list[dict], rank, *, condense: bool = True) -> dict:
    def ranking(row):
        found = rank(row)
        return condensed(found, set(row["relevant"])) if condense else found

    n = [ndcg(ranking(row), set(row["relevant"])) for row in rows]
    r = [recall(ranking(row), set(row["relevant"])) for row in rows]
    return {"ndcg10": sum(n) / len(n), "recall5": sum(r) / len(r), "queries": len(rows)}


def report(rows: list[dict], params: dict) -> list[dict]:
    from qa.search import meaning

    kinds = {
        "lexical": lambda row: row["lexical"],
        "semantic": lambda row: [k for k, s in row["semantic"][: meaning.SEMANTIC_K] if s >= params["floor"]],
        "hybrid": lambda row: hybrid(row, **params),
        "hybrid, model on every query": lambda row: hybrid(row, **params, skip=False),
    }
    table = []
    for split in ("tune", "test", "all"):
        chosen = [row for row in rows if split == "all" or row["split"] == split]
        for kind, rank in kinds.items():
            raw = scores(chosen, rank, condense=False)
            table.append({"split": split, "kind": kind, **scores(chosen, rank), "raw_ndcg10": raw["ndcg10"]})
    return table


def tune(rows: list[dict], floors=FLOORS) -> dict:
    tuning = [row for row in rows if row["split"] == "tune"]
    best = None
    for rrf_k, weight, floor in itertools.product((5, 10, 20, 40, 60), (0.5, 0.75, 1.0, 1.5, 2.0), floors):
        params = {"rrf_k": rrf_k, "weight": weight, "floor": floor}
        value = scores(tuning, lambda row, params=params: hybrid(row, **params))["ndcg10"]
        print(f"  rrf_k={rrf_k:<3} weight={weight:<5} floor={floor:<5} nDCG@10={value:.3f}", file=sys.stderr)
        if best is None or value > best[0] + 1e-9:
            best = (value, params)
    return best[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distractors", type=int, default=300)
    parser.add_argument("--tune", action="store_true", help="grid-search the fusion on the tune split")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--floors", help="cosine floors to try with --tune, comma-separated")
    parser.add_argument("--rows", type=Path, help="reuse (or save) the per-query rankings in this file")
    parser.add_argument(
        "--model",
        help="evaluate another embedder, PATH:MODULE.CLASS (a folder to import from and the class), "
        "e.g. the candidate in docs/search.md",
    )
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="zhiku-quality-"))
    from bench.server import bench_environment, setup_django

    env = bench_environment(tmp, f"sqlite:///{tmp / 'db.sqlite3'}")
    env["ZHIKU_SEMANTIC_SEARCH"] = "on"
    setup_django(env)
    from qa.search import meaning

    if args.model:
        import importlib

        folder, _, dotted = args.model.rpartition(":")
        if folder:
            sys.path.insert(0, folder)
        module, _, name = dotted.rpartition(".")
        meaning.use_embedder(getattr(importlib.import_module(module), name)())
    if meaning.embedder() is None:
        print("The embedding model is not available: nothing to measure.", file=sys.stderr)
        return 1
    items = json.loads(QUERIES.read_text(encoding="utf-8"))["queries"]
    if args.rows and args.rows.exists():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
        labels = {row["query"]: row for row in items}
        rows = [{**row, **labels[row["query"]]} for row in rows if row["query"] in labels]
    else:
        build(args.distractors)
        rows = rankings(items)
        if args.rows:
            args.rows.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    params = {"rrf_k": meaning.RRF_K, "weight": meaning.SEMANTIC_WEIGHT, "floor": meaning.MIN_SIMILARITY}
    if args.tune:
        params = tune(rows, tuple(float(f) for f in args.floors.split(",")) if args.floors else FLOORS)
        print(f"best on the tune split: {params}", file=sys.stderr)
    table = report(rows, params)
    print(f"Search quality, {len(rows)} labelled queries, {args.distractors} distractors, {params}")
    print("| split | kind | nDCG@10 | recall@5 | nDCG@10, raw lists | queries |\n|---|---|---|---|---|---|")
    for row in table:
        print(
            f"| {row['split']} | {row['kind']} | {row['ndcg10']:.3f} | {row['recall5']:.3f} "
            f"| {row['raw_ndcg10']:.3f} | {row['queries']} |"
        )
    if args.json:
        print(json.dumps({"params": params, "rows": table}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
