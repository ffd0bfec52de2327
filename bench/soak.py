"""Soak test: a long run of mixed requests against gunicorn on SQLite, with the
workers' resident memory sampled (`make soak`; docs/performance.md has the figures).

Builds a scratch site (generated content, collected static files), starts
gunicorn as `make run` does (2 workers × 4 threads, rate limits off, worker
recycling off so a leak cannot hide behind a restart), warms it up, then sends
the rest of the requests with wrk in ten rounds, reading every worker's RSS
after each. Fails when any worker's RSS grew by ``--max-growth`` (10 %) or more
between the end of the warm-up and the end, when a worker was replaced, or when
any request failed.

    python -m bench.soak                      # 200,000 requests, several minutes on 2 cores
    python -m bench.soak --requests 20000     # the bounded run of .ci/faults.sh
"""

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.server import ROOT, Gunicorn, bench_environment, wrk_errors

_LUA = """
paths = {%(paths)s}
counter = 0
answered = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
response = function(status, headers, body)
  answered = answered + 1
  if answered == %(limit)d then
    -- wrk runs for its whole -d however early its threads stop; the marker tells
    -- the caller to interrupt it, which makes it print its summary at once.
    io.open("%(marker)s", "w"):close()
    wrk.thread:stop()
  end
end
"""


@dataclass
class SoakResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    warm_rss_kib: dict = field(default_factory=dict)  # worker pid -> RSS after warm-up
    end_rss_kib: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)  # (requests so far, total RSS KiB)
    workers_replaced: bool = False
    error_lines: list = field(default_factory=list)  # wrk's own words for any failure

    @property
    def growth(self) -> float:
        """The largest relative RSS growth of one worker between warm-up and the end."""
        return max((self.end_rss_kib[pid] - kib) / kib for pid, kib in self.warm_rss_kib.items())


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))


def wrk_requests(port: int, paths: list[str], count: int, *, connections: int = 8) -> tuple[int, int, list]:
    """About ``count`` keep-alive requests with wrk, cycling through ``paths``;
    (sent, failed, wrk's summary lines about failures)."""
    with tempfile.TemporaryDirectory(prefix="zhiku-wrk-") as scratch:
        marker, script = Path(scratch) / "done", Path(scratch) / "soak.lua"
        paths_lua = ", ".join(json.dumps(p) for p in paths)
        script.write_text(_LUA % {"paths": paths_lua, "limit": count, "marker": marker})
        wrk = subprocess.Popen(
            ["wrk", "-t1", f"-c{connections}", "-d600s", "--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{port}/"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            while wrk.poll() is None and not marker.exists():
                time.sleep(0.05)
            wrk.send_signal(signal.SIGINT)
            out, _ = wrk.communicate(timeout=30)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait()
    sent = int(re.search(r"(\d+) requests in", out).group(1))
    failed = wrk_errors(out)
    lines = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return sent, failed, lines


def build(tmp: Path) -> tuple[dict, list[str]]:
    """A scratch site on SQLite and the mix of paths to request, in a child process."""
    env = bench_environment(tmp, f"sqlite:///{tmp / 'db.sqlite3'}")
    env["GUNICORN_MAX_REQUESTS"] = "0"  # no recycling: a leak must show, not be reset
    code = (
        "import json, os; from bench.soak import site_paths; print(json.dumps(site_paths(dict(os.environ))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return env, json.loads(out.strip().splitlines()[-1])


def site_paths(env: dict) -> list[str]:
    from bench.loadtest import build_site

    ids = build_site(env, questions=500, resources=20)
    from django.contrib.staticfiles.storage import staticfiles_storage

    from qa.models import Question
    from resources.models import Resource

    questions = list(Question.objects.filter(pk__in=ids["question_ids"][:40]))
    resource = Resource.objects.filter(pk__in=ids["resource_ids"]).first()
    paths = [q.get_absolute_url() for q in questions[:20]]  # question pages, each visit counted
    paths += ["/questions/", "/questions/?sort=views&page=2", "/", "/resources/"]
    paths += ["/search/?q=%E7%B4%A2%E5%BC%95", "/search/?q=Python+%E7%BC%93%E5%AD%98", "/search/?q=pg_trgm"]
    paths += ["/api/questions/", f"/api/questions/{questions[1].pk}/", "/api/resources/"]
    paths += [f"/api/questions/{q.pk}/" for q in questions[20:24]]
    paths += [staticfiles_storage.url("css/site.css"), staticfiles_storage.url("js/site.js")]
    paths += [resource.get_absolute_url(), "/healthz"]
    return paths


def soak(requests: int, *, log: Path, rounds: int = 10) -> SoakResult:
    with tempfile.TemporaryDirectory(prefix="zhiku-soak-") as scratch:
        env, paths = build(Path(scratch))
        result = SoakResult()
        warm = max(2000, requests // 10)
        started = time.monotonic()
        with Gunicorn(env, log_path=log) as server:
            sent, failed, lines = wrk_requests(server.port, paths, warm)
            result.requests, result.errors, result.error_lines = sent, failed, lines
            pids = server.worker_pids()
            result.warm_rss_kib = {pid: rss_kib(pid) for pid in pids}
            result.samples.append((result.requests, sum(result.warm_rss_kib.values())))
            per_round = max(1, (requests - warm) // rounds)
            while result.requests < requests:
                sent, failed, lines = wrk_requests(
                    server.port, paths, min(per_round, requests - result.requests)
                )
                result.requests += sent
                result.errors += failed
                result.error_lines += lines
                result.samples.append((result.requests, sum(rss_kib(pid) for pid in server.worker_pids())))
            result.workers_replaced = sorted(server.worker_pids()) != sorted(pids)
            if not result.workers_replaced:
                result.end_rss_kib = {pid: rss_kib(pid) for pid in pids}
        result.seconds = time.monotonic() - started
        return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--max-growth", type=float, default=0.10, help="largest RSS growth allowed (0.10)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    log = Path(tempfile.gettempdir()) / "zhiku-soak-gunicorn.log"
    result = soak(args.requests, log=log)
    print(f"requests {result.requests} in {result.seconds:.0f} s, failed {result.errors}")
    for line in result.error_lines:
        print(f"  wrk: {line}")
    for sent, kib in result.samples:
        print(f"  after {sent:>7} requests: workers' RSS {kib / 1024:.1f} MiB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**asdict(result), "growth": None if result.workers_replaced
                                         else result.growth}, indent=2))  # fmt: skip
    if result.workers_replaced:
        print(f"FAIL: a worker was replaced during the run (gunicorn log: {log})")
        return 1
    print(f"largest worker RSS growth after warm-up: {result.growth:.1%} (bound {args.max_growth:.0%})")
    if result.errors or result.growth >= args.max_growth:
        print("FAIL")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
