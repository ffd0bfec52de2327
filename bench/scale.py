"""`make bench-scale`: Zhiku with many questions on one PostgreSQL (docs/performance.md).

Not part of `make test` or CI. Fills a dedicated database (default
``zhiku_scale``, UTF-8 with a C.UTF-8 ctype as .ci/postgres.sh makes it) with
generated questions (bench/content.py: Zipf-distributed tags, curated links,
resources, recommendations), builds the search index, VACUUM ANALYZEs, then times the
hot paths in-process through the test client and checks each one's SQL with
``EXPLAIN`` for sequential scans of the big tables. It also times a 20,000-question
``import_content`` on SQLite. Prints one Markdown table.

    nice -n 10 .venv/bin/python -m bench.scale --questions 1000000

Per-request figures are CPU time of this process (``time.process_time``) per
request, median of several, plus wall time; the page ÷ /healthz figure is the
ratio of those CPU times, compared with the same ratio on a small database.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.server import BIN, ROOT, bench_environment, setup_django

PY = str(BIN / "python")

PG_HOST = os.environ.get("PGHOST", "127.0.0.1")
BIG_TABLES = {
    "qa_question", "qa_question_tags", "qa_relatedquestion", "qa_searchdocument", "qa_searchterm",
    "resources_recommendation", "resources_resource",
}  # fmt: skip


def create_database(name: str) -> str:
    """A fresh PostgreSQL database ``name`` (UTF-8, C.UTF-8 ctype, as .ci/postgres.sh makes them); its URL."""
    subprocess.run(["dropdb", "-h", PG_HOST, "-U", "postgres", "--if-exists", name], check=True)
    subprocess.run(
        [
            "createdb",
            "-h",
            PG_HOST,
            "-U",
            "postgres",
            "-T",
            "template0",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            name,
        ],
        check=True,
    )
    return f"postgres://postgres@{PG_HOST}:5432/{name}"


def machine() -> str:
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.split("\n")[1].split()[1]
    return f"{os.cpu_count()} CPUs (nproc), {memory} RAM, Python {platform.python_version()}"


def import_rate(questions: int) -> tuple[float, float, float]:
    """(questions/s, wall s, CPU s of the command and its workers) for an import into SQLite."""
    from bench.sections import _import_file

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        env = bench_environment(folder, f"sqlite:///{folder / 'import.sqlite3'}")
        setup_django(env)  # bench.content reads the models
        subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        path = _import_file(folder, questions)
        before = os.times()
        start = time.perf_counter()
        subprocess.run([PY, "manage.py", "import_content", str(path)], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=1200)  # fmt: skip
        wall = time.perf_counter() - start
        after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return questions / wall, wall, cpu


def timed(client, path: str, *, rounds: int = 5, clear=None) -> tuple[float, float]:
    """(median CPU ms, median wall ms) of GET ``path``; ``clear`` runs before each round."""
    cpu, wall = [], []
    for _ in range(rounds):
        if clear:
            clear()
        c, w = time.process_time(), time.perf_counter()
        response = client.get(path)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(cpu), statistics.median(wall)


def seq_scans(client, path: str) -> list[str]:
    """The big tables any statement of GET ``path`` reads with a sequential scan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    found = set()
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            found |= {t for t in _scanned(plan[0]["Plan"]) if t in BIG_TABLES}
    return sorted(found)


def _scanned(node: dict):
    if node.get("Node Type") == "Seq Scan":
        yield node.get("Relation Name")
    for child in node.get("Plans", []):
        yield from _scanned(child)


def measure(questions: int, database: str, *, reuse: bool = False) -> dict:
    """Fill ``database`` with ``questions`` and measure; runs in a child process per size.
    With ``reuse``, a database already holding that many generated questions is kept,
    and so is its search index when it holds every published question."""
    tmp = Path(tempfile.mkdtemp(prefix="zhiku-scale-"))
    url = f"postgres://postgres@{PG_HOST}:5432/{database}"
    exists = subprocess.run(
        ["psql", "-h", PG_HOST, "-U", "postgres", "-d", database, "-Atc", "SELECT count(*) FROM qa_question"],
        capture_output=True, text=True,
    )  # fmt: skip
    reused = reuse and exists.returncode == 0 and exists.stdout.strip() == str(questions)
    env = bench_environment(tmp, url if reused else create_database(database))
    setup_django(env)
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from bench.content import generate, rebuild_search_index
    from bench.search_bench import percentile, queries
    from qa.models import Question, SearchDocument, Tag
    from qa.paging import MAX_PAGES
    from qa.search import search

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    start = time.perf_counter()
    if reused:
        info = {"question_ids": list(Question.objects.order_by("pk").values_list("pk", flat=True))}
        generated = float("nan")
    else:
        info = generate(questions=questions, tags=500, resources=2000, zipf=1.0, rebuild=False)
        generated = time.perf_counter() - start
    # Statistics before the index build: without them (autovacuum may be off, and it
    # lags a bulk load anyway) the planner reads the tag links by sequential scans.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    start = time.perf_counter()
    if reused and SearchDocument.objects.count() == Question.objects.published().count():
        indexed = float("nan")  # the reused database's index is whole: not rebuilt, not timed
    else:
        rebuild_search_index()
        indexed = time.perf_counter() - start
    with connection.cursor() as cursor:
        # And a vacuum, as autovacuum would leave it: index-only scans need the visibility map.
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]

    client = Client()
    ids = info["question_ids"]
    question = Question.objects.get(pk=ids[len(ids) // 2])
    top_tag = Tag.objects.order_by("pk").first()
    paths = {
        "healthz": "/healthz",
        "question page (cached)": question.get_absolute_url(),
        "question list": "/questions/",
        "question list, deepest page": f"/questions/?page={min(max(1, questions // 20), MAX_PAGES)}",
        "tag page (most used tag)": top_tag.get_absolute_url(),
        "search page": "/search/?q=Python+灰度",
        "sitemap index": "/sitemap.xml",
        "sitemap section (last page)": f"/sitemap-questions.xml?p={max(1, -(-ids[-1] // 50000))}",
        "API list": "/api/questions/",
        "API detail": f"/api/questions/{question.pk}/",
    }
    rows = {}
    for name, path in paths.items():
        client.get(path)
        rows[name] = timed(client, path)
    rows["question page (first render)"] = timed(client, question.get_absolute_url(), clear=cache.clear)
    rows["sitemap section, uncached"] = timed(client, paths["sitemap section (last page)"], clear=cache.clear)
    admin = Client()
    User.objects.filter(username="bench").delete()
    admin.force_login(User.objects.create_superuser("bench", "b@example.com", "x"))
    for name, path in {
        "admin changelist": "/admin/qa/question/",
        "admin search": "/admin/qa/question/?q=灰度",
        "admin tag filter": f"/admin/qa/question/?tags__id__exact={top_tag.pk}",
        "admin tag list": "/admin/qa/tag/",
    }.items():
        admin.get(path)
        paths[name] = path
        rows[name] = timed(admin, path, clear=cache.clear)

    texts = queries(200)
    for text in texts[:30]:
        search(text).questions()[:20]
    cache.clear()
    latencies = []
    for text in texts:
        start = time.perf_counter()
        list(search(text).questions()[:20])
        latencies.append((time.perf_counter() - start) * 1000)

    scans = {}
    cache.clear()
    for name, path in paths.items():
        user = admin if name.startswith("admin") else client
        scans[name] = seq_scans(user, path)
    return {
        "questions": questions,
        "generate_s": generated,
        "index_s": indexed,
        "size": size,
        "rows": rows,
        "search_p50": percentile(latencies, 0.5),
        "search_p95": percentile(latencies, 0.95),
        "scans": scans,
    }


def run_child(questions: int, database: str, *, reuse: bool = False) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--child", str(questions), "--db", database]
        + (["--reuse"] if reuse else []),
        cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000, help="the size the large run is compared with")
    parser.add_argument("--db", default="zhiku_scale")
    parser.add_argument("--import-questions", type=int, default=20_000)
    parser.add_argument(
        "--reuse", action="store_true", help="keep databases that already hold the generated questions"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = measure(args.child, args.db, reuse=args.reuse)
        print(json.dumps(result))
        return 0

    print(f"machine: {machine()}", flush=True)
    if args.import_questions:
        rate, wall, cpu = import_rate(args.import_questions)
        print(f"import_content, {args.import_questions:,} questions into SQLite: {rate:.0f}/s "
              f"({wall:.1f} s wall, {cpu:.1f} s CPU)", flush=True)  # fmt: skip
    small = run_child(args.small, args.db + "_small", reuse=args.reuse)
    large = run_child(args.questions, args.db, reuse=args.reuse)
    print(f"\n| figure | {small['questions']:,} | {large['questions']:,} |\n|---|---|---|")
    print(f"| generate (bulk inserts, s) | {small['generate_s']:.0f} | {large['generate_s']:.0f} |")
    print(f"| search index build (s) | {small['index_s']:.0f} | {large['index_s']:.0f} |")
    print(f"| database size | {small['size']} | {large['size']} |")
    print(f"| search p50 / p95 (ms, 200 first searches) | {small['search_p50']:.1f} / "
          f"{small['search_p95']:.1f} | {large['search_p50']:.1f} / {large['search_p95']:.1f} |")  # fmt: skip
    for name in large["rows"]:
        s_cpu, s_wall = small["rows"][name]
        l_cpu, l_wall = large["rows"][name]
        print(f"| {name} (CPU / wall ms) | {s_cpu:.1f} / {s_wall:.1f} | {l_cpu:.1f} / {l_wall:.1f} |")
    page = "question page (cached)"
    s_ratio = small["rows"]["healthz"][0] / small["rows"][page][0]
    l_ratio = large["rows"]["healthz"][0] / large["rows"][page][0]
    print(f"| question page ÷ /healthz (by CPU per request) | {s_ratio:.2f} | {l_ratio:.2f} "
          f"(drop {100 * (1 - l_ratio / s_ratio):.0f}%) |")  # fmt: skip
    for name, tables in large["scans"].items():
        print(f"| sequential scans of big tables: {name} | {', '.join(small['scans'][name]) or 'none'} "
              f"| {', '.join(tables) or 'none'} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
