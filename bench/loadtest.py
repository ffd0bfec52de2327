"""Bounded load test against gunicorn on loopback (`make loadtest`).

Builds a fresh database (SQLite file or a new PostgreSQL database) with
generated content, starts gunicorn with config/gunicorn.conf.py exactly as
`make run` does, then fires a fixed number of requests from a few hundred
concurrent connections, mixing question pages (each one counts a view), list
and tag pages, search, the JSON API and file downloads (each one counts a
download). Passes when no request got a 5xx or failed at the socket, and when
the database's view and download counters grew by exactly the number of
counted requests. Prints the figures; exits non-zero on any failure.

    python -m bench.loadtest --db sqlite
    python -m bench.loadtest --db postgres --requests 1000 --concurrency 300
"""

import argparse
import collections
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SEARCHES = [
    "反色",
    "Python 灰度",
    "pg_trgm",
    "索引",
    "transfomer",
    "如何 提高吞吐量",
    "缓存",
    "F()",
    "并发 事务",
]


@dataclass
class Outcome:
    kind: str
    target: int | None  # question or resource id whose counter this request should move
    status: int  # 0 when the socket failed
    seconds: float
    error: str = ""


def prepare_database(db: str, tmp: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp / 'db.sqlite3'}"
    name = os.environ.get("ZHIKU_LOADTEST_PG_DB", "zhiku_loadtest")
    host = os.environ.get("PGHOST", "127.0.0.1")
    subprocess.run(["dropdb", "-h", host, "-U", "postgres", "--if-exists", name], check=True)
    subprocess.run(
        ["createdb", "-h", host, "-U", "postgres", "-T", "template0", "-E", "UTF8", "--locale=C.UTF-8", name],
        check=True,
    )
    return f"postgres://postgres@{host}:5432/{name}"


def build_site(env: dict, *, questions: int, resources: int) -> dict:
    """Migrate, collect static files and generate content in this process; return ids."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from bench.content import generate

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    ids = generate(questions=questions, resources=resources)

    from resources.models import Resource

    # generate() records file names only; downloads need the bytes on disk.
    media = Path(env["MEDIA_ROOT"])
    for resource in Resource.objects.filter(pk__in=ids["resource_ids"]):
        path = media / resource.file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(resource.size))
    connections.close_all()
    return ids


def counters(question_ids, resource_ids) -> tuple[dict, dict]:
    from django.db import connections

    from qa.models import Question
    from resources.models import Resource

    views = dict(Question.objects.filter(pk__in=question_ids).values_list("pk", "views"))
    downloads = dict(Resource.objects.filter(pk__in=resource_ids).values_list("pk", "downloads"))
    connections.close_all()
    return views, downloads


def plan(ids: dict, total: int, seed: int) -> list[tuple[str, str, int | None]]:
    """``total`` requests as (kind, path, counted id), shuffled."""
    from qa.models import Question, Tag
    from resources.models import Resource

    rng = random.Random(seed)
    questions = list(Question.objects.filter(pk__in=ids["question_ids"][:200]))
    resources = list(Resource.objects.filter(pk__in=ids["resource_ids"]))
    tags = list(Tag.objects.all())
    mix = [
        ("question", 40),
        ("page", 15),
        ("search", 15),
        ("download", 15),
        ("api", 10),
        ("resource", 5),
    ]
    kinds = rng.choices([k for k, _ in mix], weights=[w for _, w in mix], k=total)
    requests = []
    for kind in kinds:
        if kind == "question":
            q = rng.choice(questions)
            requests.append((kind, q.get_absolute_url(), q.pk))
        elif kind == "page":
            path = rng.choice(["/", "/questions/", "/questions/?sort=views&page=2", "/resources/", "/feed/"])
            if rng.random() < 0.3:
                path = rng.choice(tags).get_absolute_url()
            requests.append((kind, path, None))
        elif kind == "search":
            requests.append((kind, "/search/?" + urllib.parse.urlencode({"q": rng.choice(SEARCHES)}), None))
        elif kind == "download":
            r = rng.choice(resources)
            requests.append((kind, r.get_download_url(), r.pk))
        elif kind == "api":
            q = rng.choice(questions)
            requests.append((kind, rng.choice(["/api/questions/", f"/api/questions/{q.pk}/"]), None))
        else:
            requests.append((kind, rng.choice(resources).get_absolute_url(), None))
    return requests


def fire(port: int, requests, *, concurrency: int, deadline: float) -> list[Outcome]:
    """Send every request once, ``concurrency`` connections at a time, each on a fresh socket."""
    start_line = threading.Barrier(min(concurrency, len(requests)))

    def one(index, kind, path, target):
        if index < concurrency:
            start_line.wait(timeout=30)  # the first wave leaves together: real concurrency
        started = time.perf_counter()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Outcome(kind, target, 0, 0.0, "not sent: time limit reached")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=min(60, remaining))
            conn.request(
                "GET", urllib.parse.quote(path, safe="/?=&%"), headers={"User-Agent": "zhiku-loadtest"}
            )
            response = conn.getresponse()
            response.read()
            conn.close()
            return Outcome(kind, target, response.status, time.perf_counter() - started)
        except OSError as exc:
            return Outcome(kind, target, 0, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(one, i, *request) for i, request in enumerate(requests)]
        wait(futures, timeout=max(1, deadline - time.monotonic()) + 65)
        return [f.result() for f in futures if f.done()]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def report(outcomes: list[Outcome], planned: int, wall: float) -> list[str]:
    lines = [
        f"requests     {len(outcomes)} of {planned} planned in {wall:.1f} s"
        f" ({len(outcomes) / wall:.0f} req/s)",
        "status       "
        + ", ".join(
            f"{s or 'socket error'}: {n}"
            for s, n in sorted(collections.Counter(o.status for o in outcomes).items())
        ),
        f"{'kind':<12} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}",
    ]
    by_kind = collections.defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.kind].append(outcome.seconds * 1000)
    for kind, values in sorted(by_kind.items()):
        lines.append(
            f"{kind:<12} {len(values):>5} {statistics.median(values):>8.0f} "
            f"{percentile(values, 0.95):>8.0f} {max(values):>8.0f}"
        )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=900, help="requests to send in total")
    parser.add_argument("--concurrency", type=int, default=300, help="connections open at once")
    parser.add_argument("--questions", type=int, default=500, help="generated questions")
    parser.add_argument(
        "--time-limit", type=float, default=180, help="seconds before unsent requests are dropped"
    )
    parser.add_argument("--redis", default="", help="REDIS_URL for the server (default: local memory)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    from bench.server import Gunicorn

    tmp = Path(tempfile.mkdtemp(prefix="zhiku-loadtest-"))
    env = {
        **os.environ,
        "DATABASE_URL": prepare_database(args.db, tmp),
        "MEDIA_ROOT": str(tmp / "media"),
        "DJANGO_STATIC_ROOT": str(tmp / "static"),
        "DJANGO_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_LOG_LEVEL": "WARNING",
        # Rate limits would answer 429 to a single client firing hundreds of requests.
        "ZHIKU_RATELIMIT": "off",
    }
    env.pop("REDIS_URL", None)
    if args.redis:
        env["REDIS_URL"] = args.redis

    print(f"-- {args.db} database, data in {tmp}", file=sys.stderr)
    ids = build_site(env, questions=args.questions, resources=20)
    requests = plan(ids, args.requests, args.seed)
    views_before, downloads_before = counters(ids["question_ids"], ids["resource_ids"])

    with Gunicorn(env, log_path=tmp / "gunicorn.log") as server:
        started = time.perf_counter()
        outcomes = fire(
            server.port, requests, concurrency=args.concurrency, deadline=time.monotonic() + args.time_limit
        )
        wall = time.perf_counter() - started
    views_after, downloads_after = counters(ids["question_ids"], ids["resource_ids"])

    # Every 200 answer to a cookie-less, non-bot GET must have counted exactly once.
    expected_views = collections.Counter(
        o.target for o in outcomes if o.kind == "question" and o.status == 200
    )
    expected_downloads = collections.Counter(
        o.target for o in outcomes if o.kind == "download" and o.status == 200
    )
    lost_views = {pk: (views_after[pk] - views_before[pk], n) for pk, n in expected_views.items()}
    lost_views = {pk: got for pk, got in lost_views.items() if got[0] != got[1]}
    stray_views = sum(views_after.values()) - sum(views_before.values()) - sum(expected_views.values())
    lost_downloads = {
        pk: (downloads_after[pk] - downloads_before[pk], n)
        for pk, n in expected_downloads.items()
        if downloads_after[pk] - downloads_before[pk] != n
    }

    lines = [f"Zhiku load test: {args.db}, gunicorn config/gunicorn.conf.py, {args.concurrency} concurrent"]
    lines += report(outcomes, len(requests), wall)
    lines.append(
        f"views        {sum(expected_views.values())} counted requests, database +"
        f"{sum(views_after.values()) - sum(views_before.values())}"
    )
    lines.append(
        f"downloads    {sum(expected_downloads.values())} counted requests, database +"
        f"{sum(downloads_after.values()) - sum(downloads_before.values())}"
    )
    failures = []
    server_errors = [o for o in outcomes if o.status >= 500 or o.status == 0]
    if server_errors:
        failures.append(f"{len(server_errors)} requests failed, e.g. {server_errors[0]}")
    if len(outcomes) < len(requests):
        failures.append(f"only {len(outcomes)} of {len(requests)} requests finished in time")
    if lost_views or stray_views:
        failures.append(f"view counts off: {lost_views or ''} stray={stray_views}")
    if lost_downloads:
        failures.append(f"download counts off: {lost_downloads}")
    lines.append("RESULT       " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    print("\n".join(lines))
    if failures:
        print(f"(gunicorn log: {tmp / 'gunicorn.log'})", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
