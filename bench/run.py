"""`make bench`: how fast Zhiku is, as ratios measured in one run.

Starts gunicorn as `make run` does (config/gunicorn.conf.py, DEBUG off, rate
limits off) on a fresh SQLite database in a temporary directory, fills it with
generated content, and prints one table. Ratios against a baseline measured in
the same run (``/healthz`` on the same server, Pillow in-process on the same
file) keep the figures stable on a noisy machine. See docs/performance.md.

    .venv/bin/python -m bench.run [--questions N] [--seconds S] [--quick]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from bench import sections
from bench.server import BIN, ROOT, Gunicorn, bench_environment, load, setup_django, wrk_available

PY = str(BIN / "python")


@dataclass
class Row:
    figure: str
    value: str
    target: str = ""
    met: bool | None = None

    def cells(self) -> list[str]:
        verdict = {True: "yes", False: "**no**", None: ""}[self.met]
        return [self.figure, self.value, self.target, verdict]


def not_measured(figure: str, why: str, target: str = "") -> Row:
    return Row(figure, f"not measured: {why}", target, None)


def manage(env: dict, *args: str, timeout: float = 600) -> float:
    """Run a management command in a child process; return its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=timeout, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def has_command(name: str) -> bool:
    from django.core.management import get_commands

    return name in get_commands()


# --- 1. question page throughput ---------------------------------------------------------


def throughput(server: Gunicorn, question_ids: list[int], *, seconds: float, rounds: int) -> list[Row]:
    from django.db.models import Sum
    from django.utils.encoding import iri_to_uri

    from qa.models import Question

    if not wrk_available():
        return [not_measured("question page / healthz throughput", "wrk not installed", "≥ 0.5")]
    questions = Question.objects.filter(pk__in=question_ids)
    paths = [iri_to_uri(q.get_absolute_url()) for q in questions]
    for path in paths:  # warm every worker's caches on every page once
        for _ in range(3):
            server.get(path)
    load(server.port, ["/healthz"], seconds=2)
    load(server.port, paths, seconds=2)

    health, page, counted, served, client_cpu = [], [], 0, 0, []
    health_cpu, page_cpu = [], []
    pids = server.worker_pids()
    for _ in range(rounds):
        result = load(server.port, ["/healthz"], seconds=seconds, server_pids=pids)
        health.append(result.rate)
        health_cpu.append(result.server_cpu_us)
        client_cpu.append(result.client_cpu)
        before = questions.aggregate(n=Sum("views"))["n"]
        result = load(server.port, paths, seconds=seconds, server_pids=pids)
        counted += questions.aggregate(n=Sum("views"))["n"] - before
        served += result.requests - result.errors
        page.append(result.rate)
        page_cpu.append(result.server_cpu_us)
    ratio = statistics.median(page) / statistics.median(health)
    cpu_ratio = statistics.median(health_cpu) / statistics.median(page_cpu)
    return [
        Row("/healthz throughput (req/s, keep-alive, 8 connections)", f"{statistics.median(health):.0f}"),
        Row(
            f"question page throughput (req/s, {len(paths)} pages in turn)", f"{statistics.median(page):.0f}"
        ),
        Row("question page / healthz throughput (bimodal on 2 cores)", f"{ratio:.2f}"),
        Row("server CPU per /healthz request (µs)", f"{statistics.median(health_cpu):.0f}"),
        Row("server CPU per counted question page (µs)", f"{statistics.median(page_cpu):.0f}"),
        Row(
            "question page / healthz, by server CPU per request",
            f"{cpu_ratio:.2f}",
            "≥ 0.6",
            cpu_ratio >= 0.6,
        ),
        Row(
            "views counted / question pages served",
            f"{counted} / {served}",
            "every request counts",
            # wrk stops with requests in flight: served, counted, never reported.
            served <= counted <= served + 8 * rounds + 16,
        ),
        Row("load client CPU during /healthz (share of one core)", f"{max(client_cpu):.2f}"),
    ]


# --- 2. SQL queries per page --------------------------------------------------------------


def count_queries(path: str, *, warm: bool) -> tuple[int, int]:
    """Queries for one anonymous GET (a fresh client: no cookies, so a counted view)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if warm:
        Client().get(path)
    else:
        cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = Client().get(path)
    return response.status_code, len(captured)


def grow(question_id: int, *, related: int, resources: int) -> None:
    """Give one question more curated related questions and recommended resources."""
    from qa.models import Question, RelatedQuestion
    from resources.models import Recommendation, Resource

    others = Question.objects.exclude(pk=question_id).order_by("pk").values_list("pk", flat=True)[:related]
    RelatedQuestion.objects.filter(from_question_id=question_id).delete()
    RelatedQuestion.objects.bulk_create(
        RelatedQuestion(from_question_id=question_id, to_question_id=pk, position=n)
        for n, pk in enumerate(others)
    )
    Recommendation.objects.filter(question_id=question_id).delete()
    Recommendation.objects.bulk_create(
        Recommendation(question_id=question_id, resource_id=pk, position=n)
        for n, pk in enumerate(Resource.objects.order_by("pk").values_list("pk", flat=True)[:resources])
    )
    Question.objects.filter(pk=question_id).first().save()  # an edit, as the admin would make


def query_counts(ids: dict) -> list[Row]:
    from django.db.models import Count
    from django.utils.encoding import iri_to_uri

    from qa.models import Question
    from resources.models import Resource

    small, big = ids["question_ids"][10], ids["question_ids"][20]
    grow(small, related=0, resources=0)
    grow(big, related=5, resources=10)
    busiest = Resource.objects.annotate(n=Count("recommendations")).order_by("-n").first()
    quiet = Resource.objects.annotate(n=Count("recommendations")).order_by("n").first()

    def url(obj):
        return iri_to_uri(obj.get_absolute_url())

    pages = [
        (
            "question page (0 → 5 related, 0 → 10 resources)",
            [url(Question.objects.get(pk=small)), url(Question.objects.get(pk=big))],
        ),
        # Compared like with like: a tag filter costs one query more (the tag lookup)
        # than the plain list, which is not growth.
        ("question list page (page 1 → page 2)", ["/questions/", "/questions/?page=2"]),
        ("question list, tag filter", ["/questions/?tag=python&sort=views"]),
        ("home page", ["/"]),
        (
            "search page (反色; Python 灰度)",
            [iri_to_uri("/search/?q=反色"), iri_to_uri("/search/?q=Python 灰度")],
        ),
        (f"resource page ({quiet.n} → {busiest.n} recommending questions)", [url(quiet), url(busiest)]),
    ]
    rows = []
    for label, paths in pages:
        cold, warm, statuses = [], [], set()
        for path in paths:
            status, n = count_queries(path, warm=False)
            statuses.add(status)
            cold.append(n)
            warm.append(count_queries(path, warm=True)[1])
        if statuses != {200}:
            rows.append(not_measured(f"SQL queries: {label}", f"HTTP {sorted(statuses)}", "≤ 6, constant"))
            continue
        worst = max(cold + warm)
        constant = len(set(cold)) == 1 and len(set(warm)) == 1
        value = f"{' → '.join(map(str, cold))} (cached: {' → '.join(map(str, warm))})"
        rows.append(Row(f"SQL queries: {label}", value, "≤ 6, constant", worst <= 6 and constant))
    return rows


# --- 3. search latency ----------------------------------------------------------------------


def search_latency(env: dict, quick: bool) -> list[Row]:
    script = ROOT / "bench" / "search_bench.py"
    if not script.exists():
        return [
            not_measured(
                "search latency p50/p95 (10k, 100k; SQLite, PostgreSQL)",
                "bench/search_bench.py missing",
                "p95 ≤ 50 ms, 100k/10k ≤ 3",
            )
        ]
    return run_json_script("bench.search_bench", env, quick, "search")


def run_json_script(module: str, env: dict, quick: bool, what: str) -> list[Row]:
    """Run a companion benchmark that prints its rows as JSON on its last line."""
    args = [PY, "-m", module, "--json"] + (["--quick"] if quick else [])
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=420)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
        return [not_measured(what, f"{module} failed: {tail[0][:120]}")]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return [Row(r["figure"], r["value"], r.get("target", ""), r.get("met")) for r in data["rows"]]


def search_quality(env: dict, quick: bool) -> list[Row]:
    """nDCG@10 and recall@5 of lexical, semantic and hybrid search on bench/queries.json."""
    args = [PY, "-m", "bench.quality", "--json", "--distractors", "100" if quick else "300"]
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
        return [not_measured("search quality", f"bench.quality failed: {tail[0][:120]}")]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    by = {(row["split"], row["kind"]): row for row in data["rows"]}
    rows = []
    for split in ("tune", "test"):
        for kind in ("lexical", "semantic", "hybrid"):
            row = by[(split, kind)]
            rows.append(
                Row(
                    f"search quality, {split} half ({row['queries']} queries): {kind} nDCG@10 / recall@5",
                    f"{row['ndcg10']:.3f} / {row['recall5']:.3f}",
                )
            )
        best = max(by[(split, "lexical")]["ndcg10"], by[(split, "semantic")]["ndcg10"])
        hybrid = by[(split, "hybrid")]["ndcg10"]
        rows.append(
            Row(
                f"hybrid beats lexical and semantic alone ({split} half)",
                f"{hybrid:.3f}",
                "yes",
                hybrid > best,
            )
        )
    return rows


# --- the table --------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    header = ["figure", "value", "target", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


SECTIONS = [
    "throughput",
    "image tool",
    "query counts",
    "search latency",
    "search quality",
    "import speed",
    "cold start",
]


def section(rows: list[Row], name: str, func, *args, wanted=frozenset(SECTIONS), **kwargs) -> None:
    if name not in wanted:
        return
    start = time.perf_counter()
    print(f"-- {name} …", file=sys.stderr, flush=True)
    try:
        rows.extend(func(*args, **kwargs))
    except Exception as exc:  # one failing section must not hide the others
        traceback.print_exc()
        rows.append(not_measured(name, f"{type(exc).__name__}: {str(exc)[:100]}"))
    print(f"   {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--questions", type=int, default=5000, help="questions in the page benchmark database"
    )
    parser.add_argument("--seconds", type=float, default=5, help="length of one load run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating healthz/page load runs")
    parser.add_argument("--quick", action="store_true", help="smaller data and shorter runs (a smoke test)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database and logs")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "latest.md")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section (repeatable)"
    )
    args = parser.parse_args(argv)
    wanted = set(args.only or SECTIONS)
    if args.quick:
        args.questions, args.seconds, args.rounds = min(args.questions, 1000), 2, 1

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="zhiku-bench-"))
    env = bench_environment(tmp, f"sqlite:///{tmp / 'db.sqlite3'}")
    setup_django(env)
    from django.core.management import call_command

    from bench.content import generate

    rows: list[Row] = []
    print(f"-- data in {tmp}", file=sys.stderr)
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    t = time.perf_counter()
    ids = generate(questions=args.questions)
    print(f"   generated {args.questions} questions in {time.perf_counter() - t:.1f} s", file=sys.stderr)

    with Gunicorn(env, log_path=tmp / "gunicorn.log") as server:
        section(
            rows,
            "throughput",
            throughput,
            server,
            ids["question_ids"][:200],
            seconds=args.seconds,
            rounds=args.rounds,
            wanted=wanted,
        )
        section(rows, "image tool", sections.imaging, server, wanted=wanted, repeat=1 if args.quick else 3)
    section(rows, "query counts", query_counts, ids, wanted=wanted)
    section(rows, "search latency", search_latency, env, args.quick, wanted=wanted)
    section(rows, "search quality", search_quality, env, args.quick, wanted=wanted)
    section(
        rows,
        "import speed",
        sections.import_speed,
        env,
        wanted=wanted,
        questions=1000 if args.quick else 10_000,
    )
    section(rows, "cold start", sections.cold_start, env, wanted=wanted)

    total = time.perf_counter() - started
    rows.append(Row("whole benchmark wall time (s)", f"{total:.0f}", "< 600", total < 600))
    text = table(rows)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    if args.keep:
        print(f"(table written to {args.out}; data kept in {tmp})", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"(table written to {args.out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
