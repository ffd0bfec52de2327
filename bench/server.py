"""A gunicorn server started the way `make run` starts it, and a load client for it."""

import http.client
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_environment(tmp: Path, database_url: str) -> dict:
    """The environment benchmarks run Django and gunicorn in: a scratch database and
    media/static folders under ``tmp``, DEBUG and rate limits off, local-memory cache."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(tmp / "media"),
        "DJANGO_STATIC_ROOT": str(tmp / "static"),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "ZHIKU_RATELIMIT": "off",
        # Lexical unless a benchmark asks for meaning (bench.quality, search_bench --meaning):
        # an import would otherwise embed every question it writes.
        "ZHIKU_SEMANTIC_SEARCH": "off",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    return env


def setup_django(env: dict) -> None:
    """Configure Django in this process with ``env`` (from bench_environment)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_healthz(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"gunicorn did not answer /healthz on port {port} within {timeout}s")


class Gunicorn:
    """``gunicorn config.wsgi -c config/gunicorn.conf.py`` on a free loopback port."""

    def __init__(self, env: dict, *, log_path: Path, access_log: bool = False):
        self.port = free_port()
        self.env = {**env, "DJANGO_DEBUG": "false"}
        if not access_log:
            self.env["GUNICORN_ACCESSLOG"] = ""
        self.log_path = log_path
        self.proc = None

    def __enter__(self):
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "-c",
                "config/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_healthz(self.port, proc=self.proc)
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@dataclass
class LoadResult:
    rate: float  # requests per second
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors
    client_cpu: float  # share of one core the load client used
    server_cpu_us: float | None = None  # workers' utime + stime per request served, in µs


_LUA = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_errors(out: str) -> int:
    """Non-2xx/3xx answers plus socket errors (timeouts included) in wrk's summary."""
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(n) for n in match.groups())
    return errors


def process_cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes ``pids`` have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        # Fields 14 and 15 of /proc/PID/stat, counted after the parenthesised name.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def load(
    port: int,
    paths: list[str],
    *,
    seconds: float,
    connections: int = 8,
    threads: int = 1,
    server_pids: list[int] | None = None,
) -> LoadResult:
    """Keep-alive load with wrk, cycling through ``paths``; no cookies are ever sent.

    With ``server_pids`` (the gunicorn workers) the result also says how much
    CPU time the server spent per request: unlike requests per second, that
    does not depend on how wrk's connections happen to spread over workers."""
    lua = _LUA % ", ".join(f'"{p}"' for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = process_cpu_seconds(server_pids) if server_pids else 0.0
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}{paths[0]}",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        os.unlink(script.name)
    server_cpu = process_cpu_seconds(server_pids) - server_before if server_pids else None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = wrk_errors(out)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    per_request = server_cpu * 1e6 / requests if server_cpu is not None and requests else None
    return LoadResult(
        rate=rate, requests=requests, errors=errors, client_cpu=cpu / seconds, server_cpu_us=per_request
    )
