"""Search benchmark: latency of ``qa.search`` at scale on SQLite and PostgreSQL,
and search API throughput relative to /healthz on the same gunicorn.

For each database and size, a child process builds a fresh database with
``bench.content.generate`` (the index rebuilt once at the end), then times
the search function plus loading the first page of results (what the search
page and API do) over a few hundred distinct queries: Chinese words of one to
four characters, English words in any case, identifiers, mixed queries,
traditional characters, typos and words that match nothing. The same
content is generated on both databases, so their top results are compared.

With --throughput, the search API is loaded on gunicorn twice: over thousands
of distinct queries drawn from the index vocabulary (first searches) and over
the timed queries again once they are cached (repeats), each against /healthz.

    python -m bench.search_bench                      # 10k and 100k, both databases
    python -m bench.search_bench --sizes 2000 --dbs sqlite --throughput
    python -m bench.search_bench --quick --json       # as bench/run.py calls it

Prints a table (and with --json, the rows as JSON on the last line).
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_HOST = os.environ.get("PGHOST", "127.0.0.1")

FIXED_QUERIES = [
    "反色", "灰度", "灰度图", "灰度圖", "图像处理", "Python灰度反色", "pg_trgm", "F()", "bm25",
    "transfomer", "pyhton", "SQLITE", "Django 缓存", "如何提高吞吐量", "中文分词", "全文检索", "EXIF",
    "zk000123", "不存在的词语", "N+1", "像素 通道", "WAL", "并发事务", "pixel buffer", "索引",
]  # fmt: skip


def queries(count: int, seed: int = 11) -> list[str]:
    """``count`` distinct queries mixing the kinds people type."""
    from bench.content import ACTIONS, TOPICS, WORDS

    rng = random.Random(seed)
    found = dict.fromkeys(FIXED_QUERIES)
    makers = [
        lambda: rng.choice(WORDS),
        lambda: rng.choice(TOPICS) + rng.choice(WORDS),
        lambda: f"{rng.choice(TOPICS)} {rng.choice(ACTIONS)}",
        lambda: rng.choice(ACTIONS)[: rng.randint(1, 4)],
        lambda: f"zk{rng.randrange(200000):06d}",
        lambda: rng.choice(WORDS).upper() if rng.choice(WORDS).isascii() else rng.choice(WORDS),
        lambda: " ".join(rng.sample(WORDS, 2)),
        lambda: _typo(rng, rng.choice([w for w in WORDS + TOPICS if w.isascii() and len(w) > 4])),
    ]
    while len(found) < count:
        found[rng.choice(makers)()] = None
    return list(found)[:count]


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word))
    return word[:i] + word[i + 1 :]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- child: one database, one size -------------------------------------------------------------


def synthesize_embeddings(sample: int, seed: int = 5) -> dict:
    """Vectors for every generated question: ``sample`` of them embedded by the
    model, the rest a sampled real vector plus a little noise (renormalised).

    Embedding 100k passages would take hours on two cores; the generated
    questions are variations on a few hundred titles anyway, so their real
    vectors would cluster the same way. Returns the timings of the real part."""
    import numpy as np

    from qa.models import Question, QuestionEmbedding
    from qa.search import embeddings, meaning

    model = meaning.embedder()
    pks = list(Question.objects.order_by("pk").values_list("pk", flat=True))
    real = Question.objects.filter(pk__in=pks[:sample]).prefetch_related("tags")
    started = time.perf_counter()
    meaning.embed_questions([(q, [t.name for t in q.tags.all()]) for q in real])
    embed_seconds = time.perf_counter() - started
    done = dict(QuestionEmbedding.objects.values_list("question_id", "vector"))
    base = np.stack([embeddings.from_bytes(v, model.dim) for v in done.values()])
    rng = np.random.default_rng(seed)
    rows, batch = [], []
    for pk in pks:
        if pk in done:
            continue
        vector = base[rng.integers(len(base))] + rng.normal(0, 0.02, model.dim).astype(np.float32)
        vector /= np.linalg.norm(vector)
        batch.append(
            QuestionEmbedding(
                question_id=pk,
                model=model.name,
                dim=model.dim,
                vector=embeddings.to_bytes(vector),
                content_hash="synthetic",
            )
        )
        if len(batch) == 5000:
            QuestionEmbedding.objects.bulk_create(batch)
            rows.append(len(batch))
            batch = []
    QuestionEmbedding.objects.bulk_create(batch)
    return {"embedded": len(done), "embed_seconds": embed_seconds}


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(db: str, size: int, n_queries: int, throughput_seconds: int, semantic: bool = False) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="zhiku-search-bench-"))
    if db == "sqlite":
        url = f"sqlite:///{tmp / 'db.sqlite3'}"
    else:
        # One name per run: two benchmarks at once must not drop each other's database.
        name = f"zhiku_searchbench_{size}_{os.getpid()}"
        from bench.scale import create_database

        url = create_database(name)
    from bench.server import bench_environment, setup_django

    env = bench_environment(tmp, url)
    env["ZHIKU_SEMANTIC_SEARCH"] = "on" if semantic else "off"
    setup_django(env)
    from django.core.management import call_command
    from django.db import connection

    from bench.content import generate
    from qa.search import search

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    generate(questions=size, resources=0, curated=0, recommended=0)
    build_seconds = time.perf_counter() - started
    extra: dict = {}
    if semantic:
        from qa import freshness
        from qa.search import meaning

        extra = synthesize_embeddings(sample=min(100, size))
        before = _rss_mib()
        started = time.perf_counter()
        meaning.INDEX.refresh(freshness.current(), meaning.embedder())
        extra["index_load_seconds"] = time.perf_counter() - started
        extra["index_mib"] = _rss_mib() - before
        extra["rss_mib"] = _rss_mib()
    if db == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    texts = queries(n_queries)
    for text in texts[:50]:  # warm jieba, the database's caches and the connection
        search(text).questions()[:20]
    # Timed searches are first searches: results cached by the warm-up would hide their cost.
    from django.core.cache import cache

    cache.clear()
    latencies, tops = [], {}
    for text in texts:
        t = time.perf_counter()
        results = search(text)
        results.questions()[:20]
        latencies.append((time.perf_counter() - t) * 1000)
        tops[text] = results.ids[:10]

    suggest_latencies, suggest_load = suggestion_latencies(texts)
    out = {
        **extra,
        "semantic": semantic,
        "suggest_p50": percentile(suggest_latencies, 0.50),
        "suggest_p95": percentile(suggest_latencies, 0.95),
        "suggest_load_seconds": suggest_load,
        "db": db,
        "size": size,
        "build_seconds": build_seconds,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
        "queries": len(texts),
        "tops": tops,
    }
    if throughput_seconds:
        out.update(api_throughput(env, tmp, texts, throughput_seconds))
    if db == "postgres":
        connection.close()
        subprocess.run(["dropdb", "-h", PG_HOST, "-U", "postgres", "--if-exists", name])
    return out


def suggestion_latencies(texts: list[str]) -> tuple[list[float], float]:
    """Milliseconds per ``suggestions()`` call over prefixes of ``texts`` (results
    not cached), and the seconds the first call took to load the titles."""
    from django.core.cache import cache

    from qa.search.suggest import suggestions

    started = time.perf_counter()
    suggestions("预")
    load_seconds = time.perf_counter() - started
    prefixes = list(dict.fromkeys(text[:n] for text in texts for n in (1, 2, 3) if text[:n].strip()))
    cache.clear()
    latencies = []
    for prefix in prefixes[:600]:
        t = time.perf_counter()
        suggestions(prefix)
        latencies.append((time.perf_counter() - t) * 1000)
    return latencies, load_seconds


def vocabulary_queries(count: int, seed: int = 23) -> list[str]:
    """``count`` distinct queries drawn from the index's own vocabulary.

    Mostly one or two of the words many questions share (so most queries rank
    a full set of candidates), some with a word found in one question only, some
    with a letter dropped from an English word (a typo). Thousands of them are
    all different: a throughput run over a few hundred measures only the cache."""
    from qa.models import SearchTerm
    from qa.search.tokenize import surface

    indexed = SearchTerm.objects.filter(df__gt=0).exclude(term__startswith="#").order_by("term")
    common, rare = [], []
    for term, df in indexed.values_list("term", "df"):
        (common if df > 1 else rare).append(surface(term))
    rare = rare or common
    rng = random.Random(seed)
    english = [term for term in common if term.isascii() and term.isalpha() and len(term) > 4]
    makers = [
        lambda: rng.choice(common),
        lambda: f"{rng.choice(common)} {rng.choice(common)}",
        lambda: f"{rng.choice(common)} {rng.choice(common)}",
        lambda: rng.choice(common) + rng.choice(common),
        lambda: f"{rng.choice(common)} {rng.choice(rare)}",
    ]
    if english:
        makers.append(lambda: f"{_typo(rng, rng.choice(english))} {rng.choice(common)}")
    found: dict[str, None] = {}
    for _ in range(count * 20):
        if len(found) >= count:
            break
        found[rng.choice(makers)()] = None
    return list(found)


def api_throughput(env: dict, tmp: Path, texts: list[str], seconds: int) -> dict:
    """Search API requests/s divided by /healthz requests/s, for first searches and repeats.

    Cold: each run walks its own slice of thousands of distinct queries from the
    vocabulary, so (unless a run outpaces its slice, which is reported) no
    request finds its results cached. Warm: the timed queries again, after a
    pass that cached them."""
    from bench.server import Gunicorn, load, wrk_available

    if not wrk_available():
        return {}

    def paths(queries):
        return ["/api/questions/?" + urllib.parse.urlencode({"q": text}) for text in queries]

    runs = 2
    distinct = vocabulary_queries(max(6000, 1500 * seconds) * runs)
    per_run = len(distinct) // runs
    warm_paths = paths(texts)
    with Gunicorn(env, log_path=tmp / "gunicorn.log") as server:
        load(server.port, ["/healthz"], seconds=2)
        health, cold, warm, errors, repeated = [], [], [], 0, 0
        for run in range(runs):
            health.append(load(server.port, ["/healthz"], seconds=seconds).rate)
            result = load(server.port, paths(distinct[run * per_run : (run + 1) * per_run]), seconds=seconds)
            cold.append(result.rate)
            errors += result.errors
            repeated += max(0, result.requests - per_run)
        for path in warm_paths:
            server.get(path)
        for _run in range(runs):
            result = load(server.port, warm_paths, seconds=seconds)
            warm.append(result.rate)
            errors += result.errors
    return {
        "healthz_rps": statistics.median(health),
        "search_api_rps": statistics.median(cold),
        "search_api_warm_rps": statistics.median(warm),
        "search_api_distinct": per_run,
        "search_api_repeated": repeated,
        "search_api_errors": errors,
    }


# --- parent ----------------------------------------------------------------------------------


def run_child(db: str, size: int, args) -> dict | None:
    command = [PY, "-m", "bench.search_bench", "--child", db, str(size), "--queries", str(args.queries)]
    if args.meaning:
        command.append("--meaning")
    if args.throughput and size == min(args.sizes):
        command += ["--throughput-seconds", str(args.seconds)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"-- {db} {size}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def rows_for(results: list[dict]) -> list[dict]:
    rows = []
    for r in results:
        label = f"{r['db']}, {r['size']:,} questions" + (", meaning on" if r.get("semantic") else "")
        rows.append({"figure": f"search index build ({label}, s)", "value": f"{r['build_seconds']:.0f}"})
        if "index_mib" in r:
            rows.append(
                {
                    "figure": f"vector index in one process ({label}: MiB, load s, process RSS MiB)",
                    "value": f"{r['index_mib']:.0f}, {r['index_load_seconds']:.1f}, {r['rss_mib']:.0f}",
                }
            )
            rate = r["embedded"] / max(r["embed_seconds"], 1e-9)
            rows.append(
                {
                    "figure": f"embedding rate ({r['embedded']} real passages; 10k questions take "
                    f"{10000 / rate / 60:.0f} min)",
                    "value": f"{rate:.1f}/s",
                }
            )
        rows.append(
            {
                "figure": f"suggestions p50 / p95 ({label}, ms; load {r['suggest_load_seconds']:.1f} s)",
                "value": f"{r['suggest_p50']:.2f} / {r['suggest_p95']:.2f}",
                "target": "p95 ≤ 10 ms",
                "met": r["suggest_p95"] <= 10,
            }
        )
        rows.append(
            {
                "figure": f"search latency p50 / p95 ({label}, {r['queries']} queries, ms)",
                "value": f"{r['p50']:.1f} / {r['p95']:.1f}",
                "target": "p95 ≤ 50 ms",
                "met": r["p95"] <= 50,
            }
        )
        if "search_api_rps" in r:
            kinds = [
                (
                    f"distinct queries, {r['search_api_distinct']:,} per run, "
                    f"{r['search_api_repeated']} repeated",
                    r["search_api_rps"],
                ),
                ("repeated queries", r["search_api_warm_rps"]),
            ]
            for (kind, rate), target in zip(kinds, (0.12, 0.5), strict=True):
                ratio = rate / r["healthz_rps"]
                target_text = f"≥ {target}"
                rows.append(
                    {
                        "figure": f"search API / healthz throughput ({label}, {kind}; "
                        f"{rate:.0f} / {r['healthz_rps']:.0f} req/s, {r['search_api_errors']} failed)",
                        "value": f"{ratio:.2f}",
                        "target": target_text,
                        "met": ratio >= target,
                    }
                )
    by_size: dict[int, dict[str, dict]] = {}
    for r in results:
        by_size.setdefault(r["size"], {})[r["db"]] = r
    for size, pair in sorted(by_size.items()):
        if {"sqlite", "postgres"} <= pair.keys():
            a, b = pair["sqlite"]["tops"], pair["postgres"]["tops"]
            same = sum(a[q] == b.get(q) for q in a)
            rows.append(
                {
                    "figure": f"queries with identical top 10 on SQLite and PostgreSQL ({size:,})",
                    "value": f"{same} / {len(a)}",
                    "target": "all",
                    "met": same == len(a),
                }
            )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated question counts")
    parser.add_argument("--dbs", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--queries", type=int, default=400, help="distinct queries timed per run")
    parser.add_argument(
        "--throughput", action="store_true", help="also measure API vs /healthz (smallest size)"
    )
    parser.add_argument("--seconds", type=int, default=5, help="length of one throughput run")
    parser.add_argument("--quick", action="store_true", help="small sizes, SQLite and PostgreSQL")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON on the last line")
    parser.add_argument(
        "--meaning", action="store_true", help="search by meaning on, with stored vectors for every question"
    )
    parser.add_argument("--child", nargs=2, metavar=("DB", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--throughput-seconds", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        db, size = args.child
        print(json.dumps(child(db, int(size), args.queries, args.throughput_seconds, args.meaning)))
        return 0

    if args.quick:
        args.sizes, args.queries, args.seconds, args.throughput = "2000", 200, 2, True
    args.sizes = [int(s) for s in args.sizes.split(",")]
    dbs = [d.strip() for d in args.dbs.split(",") if d.strip()]
    if "postgres" in dbs and subprocess.run(["pg_isready", "-h", PG_HOST, "-q"]).returncode != 0:
        print("-- PostgreSQL not reachable: SQLite only", file=sys.stderr)
        dbs.remove("postgres")
    results = []
    for size in args.sizes:
        for db in dbs:
            print(f"-- {db}, {size} questions", file=sys.stderr)
            if (found := run_child(db, size, args)) is not None:
                results.append(found)
    rows = rows_for(results)
    width = max((len(r["figure"]) for r in rows), default=10)
    for r in rows:
        print(f"{r['figure']:<{width}}  {r['value']:>12}  {r.get('target', '')}")
    if args.json:
        print(json.dumps({"rows": rows}, ensure_ascii=False))
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
