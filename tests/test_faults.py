"""Faults as operators meet them: PostgreSQL restarted under load, Redis stopped
and started again, the disk full during an upload and an import, a gunicorn
worker and an import killed with SIGKILL, and a bounded soak.

Run by .ci/faults.sh (``pytest -m faults``), not by ``make test``: it needs root
(a tmpfs, the ``postgres`` OS user) and a few minutes. Every server is private
to the test that starts it, on loopback and a free port, and is stopped by the
test however it ends; the machine's shared PostgreSQL and Redis are never
touched. Each run's figures go to test-artifacts/faults.json; docs/deploy.md
("Faults") quotes them.
"""

import contextlib
import errno
import glob
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from bench.server import Gunicorn, bench_environment, free_port
from bench.soak import soak
from config.storage import INCOMING
from resources.models import Resource
from tests.conftest import ROOT

pytestmark = pytest.mark.faults

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
ARTIFACTS = ROOT / "test-artifacts" / "faults.json"
FIGURES: dict = {}


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield FIGURES
    ARTIFACTS.parent.mkdir(exist_ok=True)
    previous = json.loads(ARTIFACTS.read_text()) if ARTIFACTS.exists() else {}
    ARTIFACTS.write_text(json.dumps({**previous, **FIGURES}, indent=2, ensure_ascii=False))


# --- private servers ---------------------------------------------------------------------------


def as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temp folder, on a free loopback port."""

    def __init__(self):
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
        if not versions:
            pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql")
        self.bin = Path(versions[-1])
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/zhiku"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args),
            check=True, capture_output=True, timeout=90,
        )  # fmt: skip

    def __enter__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="zhiku-faults-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        subprocess.run(
            as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--locale=C.UTF-8"),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        try:
            options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
            self.pg_ctl("-o", options, "-l", str(self.dir / "log"), "start")
            with psycopg.connect(self.url.replace("/zhiku", "/postgres"), autocommit=True) as conn:
                conn.execute("CREATE DATABASE zhiku TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'")
        except BaseException:
            self.__exit__()
            raise
        return self

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut, the server comes back."""
        # -l as at start: without it the server would keep pg_ctl's stdout open.
        self.pg_ctl("-m", "fast", "-l", str(self.dir / "log"), "restart")

    def __exit__(self, *exc):
        with contextlib.suppress(subprocess.SubprocessError):
            self.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` on a free loopback port, no persistence; stopped and started at will."""

    def __init__(self, tmp: Path):
        if not shutil.which("redis-server"):
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.dir = tmp
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = self.client()
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    return
            time.sleep(0.05)
        raise RuntimeError("the private redis-server did not answer")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


# --- a site and a load on it ---------------------------------------------------------------------


@dataclass
class Site:
    env: dict
    question_urls: list[str]


def build_site(tmp: Path, database_url: str, **env) -> Site:
    """Migrated database with generated content, collected static files; in a child process."""
    environment = {**bench_environment(tmp, database_url), "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4"}
    environment.update(env)
    code = (
        "import json, os\n"
        "from bench.loadtest import build_site\n"
        "ids = build_site(dict(os.environ), questions=60, resources=4)\n"
        "from qa.models import Question\n"
        "urls = [q.get_absolute_url() for q in Question.objects.filter(pk__in=ids['question_ids'][:30])]\n"
        "print(json.dumps(urls))\n"
    )
    built = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    return Site(env=environment, question_urls=json.loads(built.stdout.strip().splitlines()[-1]))


def total_views(database_url: str) -> int:
    query = "SELECT COALESCE(SUM(views), 0) FROM qa_question"
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as conn:
            return conn.execute(query).fetchone()[0]
    with psycopg.connect(database_url) as conn:
        return conn.execute(query).fetchone()[0]


@dataclass
class Outcome:
    started: float
    ended: float
    status: int  # 0: the connection failed


class Load:
    """Question pages requested by a few threads until stopped, each on a fresh
    connection without cookies, so every 200 must have counted one view."""

    def __init__(self, port: int, paths: list[str], *, threads: int = 6):
        self.port, self.paths, self.threads = port, paths, threads
        self.outcomes: list[Outcome] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def _run(self, offset: int) -> None:
        n = offset
        while not self.stopping.is_set():
            path = self.paths[n % len(self.paths)]
            n += self.threads
            started = time.monotonic()
            status = 0
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", path, headers={"User-Agent": BROWSER})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
            finally:
                conn.close()
            with self.lock:
                self.outcomes.append(Outcome(started, time.monotonic(), status))

    def __enter__(self):
        self.workers = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)
        ]
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for worker in self.workers:
            worker.join(timeout=60)

    def served(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 200]

    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 200]


def get(port: int, path: str) -> tuple[int, bytes, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"User-Agent": BROWSER})
        response = conn.getresponse()
        return response.status, response.read(), time.monotonic() - started
    finally:
        conn.close()


# --- PostgreSQL restarted under load -----------------------------------------------------------


def test_postgresql_restart_under_load_loses_no_view(tmp_path):
    """Errors only while PostgreSQL restarts, pages again within 5 s, and views
    counted in the database equal the question pages answered 200."""
    with PrivatePostgres() as pg:
        site = build_site(tmp_path, pg.url)
        before = total_views(pg.url)
        with (
            Gunicorn(site.env, log_path=tmp_path / "gunicorn.log") as server,
            Load(server.port, site.question_urls) as load,
        ):
            time.sleep(5)
            restart_began = time.monotonic()
            pg.restart()
            restart_ended = time.monotonic()
            time.sleep(8)
        counted = total_views(pg.url) - before

    served, failed = load.served(), load.failed()
    after_restart = [o.ended for o in served if o.started >= restart_ended]
    assert after_restart, "no page was served after the restart"
    recovery = min(after_restart) - restart_ended
    last_error = max((o.ended for o in failed), default=restart_began)
    FIGURES["postgres_restart"] = {
        "requests": len(load.outcomes),
        "served_200": len(served),
        "failed": len(failed),
        "restart_seconds": round(restart_ended - restart_began, 2),
        "error_window_seconds": round(last_error - restart_began, 2),
        "recovery_seconds": round(recovery, 3),
        "views_counted": counted,
    }
    assert len(served) > 100
    # Errors only during the restart: none began well before it or ended well after it.
    assert all(restart_began - 1 <= o.ended and o.started <= restart_ended + 5 for o in failed), FIGURES
    assert recovery < 5
    assert counted == len(served), FIGURES["postgres_restart"]


# --- Redis stopped, then started ----------------------------------------------------------------


def test_redis_outage_keeps_pages_serving_and_readyz_names_the_cache(tmp_path):
    with PrivateRedis(tmp_path) as private_redis:
        site = build_site(
            tmp_path,
            f"sqlite:///{tmp_path / 'db.sqlite3'}",
            REDIS_URL=private_redis.url,
            ZHIKU_RATELIMIT="on",
            ZHIKU_RATELIMIT_SEARCH="100000/m",
        )
        log = tmp_path / "gunicorn.log"
        paths = [*site.question_urls[:5], "/", "/questions/", "/search/?q=Python", "/api/questions/"]
        with Gunicorn(site.env, log_path=log) as server:
            assert get(server.port, "/readyz")[0] == 200
            assert all(get(server.port, path)[0] == 200 for path in paths)
            assert private_redis.client().dbsize() > 0  # pages and limits live in Redis

            private_redis.stop()
            down = [get(server.port, path) for path in paths * 3]
            status, body, _ = get(server.port, "/readyz")
            checks = json.loads(body)["checks"]
            assert status == 503
            assert checks["cache"]["status"] == "error"
            assert checks["database"]["status"] == "ok"

            private_redis.start()
            back_at = time.monotonic()
            while get(server.port, "/readyz")[0] != 200:
                assert time.monotonic() - back_at < 10, "/readyz still failing 10 s after Redis came back"
                time.sleep(0.1)
            ready_after = time.monotonic() - back_at
            client = private_redis.client()
            for _ in range(2):  # the first visit stores the page again, the second reads it
                assert get(server.port, site.question_urls[0])[0] == 200
            hits = client.info("stats")["keyspace_hits"]

    FIGURES["redis_outage"] = {
        "requests_while_down": len(down),
        "statuses_while_down": sorted({status for status, _, _ in down}),
        "slowest_while_down_ms": round(max(seconds for _, _, seconds in down) * 1000, 1),
        "readyz_ok_after_restart_seconds": round(ready_after, 2),
    }
    assert {status for status, _, _ in down} == {200}
    assert max(seconds for _, _, seconds in down) < 2
    assert hits > 0, "the cache is not read again after Redis came back"
    text = log.read_text()
    assert "cache unavailable" in text
    assert "rate limit cache unavailable" in text


# --- the disk full during an upload or an import ------------------------------------------------


@pytest.fixture
def full_disk(tmp_path, settings):
    """MEDIA_ROOT on a 2 MiB tmpfs."""
    with tmpfs(tmp_path / "media", "2m") as media:
        settings.MEDIA_ROOT = media
        yield media


def files_in(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


BIG = b"0123456789abcdef" * (3 * 1024 * 1024 // 16)  # 3 MiB, more than the disk holds


@pytest.mark.django_db
def test_an_admin_upload_bigger_than_the_free_space_is_refused_cleanly(admin_client, full_disk):
    data = {
        "title": "放不下的文件",
        "slug": "",
        "key": "",
        "description": "",
        "is_published": "on",
        "created_0": "2024-08-27",
        "created_1": "22:04:20",
        "file": SimpleUploadedFile("big.txt", BIG),
        "recommendations-TOTAL_FORMS": "0",
        "recommendations-INITIAL_FORMS": "0",
        "recommendations-MIN_NUM_FORMS": "0",
        "recommendations-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post("/admin/resources/resource/add/", data, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "服务器磁盘已满" in text or "disk is full" in text
    assert not Resource.objects.exists()
    assert files_in(full_disk) == []


@pytest.mark.django_db
def test_an_import_bigger_than_the_free_space_names_the_file_and_writes_nothing(full_disk, tmp_path):
    folder = tmp_path / "content"
    (folder / "files").mkdir(parents=True)
    (folder / "files" / "big.txt").write_bytes(BIG)
    (folder / "content.json").write_text(json.dumps({
        "questions": [{"key": "q1", "title": "问题", "answer": "回答", "resources": ["big"]}],
        "resources": [{"key": "big", "title": "大文件", "file": "files/big.txt"}],
    }, ensure_ascii=False))  # fmt: skip
    with pytest.raises(CommandError) as raised:
        call_command("import_content", str(folder / "content.json"))
    message = str(raised.value)
    assert 'resources[0] (key "big"), field "file"' in message
    assert os.strerror(errno.ENOSPC) in message
    assert not Resource.objects.exists()
    assert files_in(full_disk) == []


# --- SIGKILL of a gunicorn worker under load ---------------------------------------------------


def test_a_killed_worker_is_replaced_and_no_view_is_lost(tmp_path):
    """Requests on the killed worker fail; every 200 counted its view, and a view
    counted without its 200 (written, then killed before sending) is at most one
    per failed request."""
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    site = build_site(tmp_path, database)
    before = total_views(database)
    with Gunicorn(site.env, log_path=tmp_path / "gunicorn.log") as server:
        with Load(server.port, site.question_urls) as load:
            time.sleep(4)
            victim = server.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            while not (len(pids := server.worker_pids()) == 2 and victim not in pids):
                assert time.monotonic() - killed_at < 10, "gunicorn did not replace the killed worker"
                time.sleep(0.02)
            replaced_after = time.monotonic() - killed_at
            time.sleep(5)
        assert get(server.port, "/healthz")[0] == 200
    counted = total_views(database) - before
    served, failed = load.served(), load.failed()
    FIGURES["worker_sigkill"] = {
        "requests": len(load.outcomes),
        "served_200": len(served),
        "failed": len(failed),
        "replaced_after_seconds": round(replaced_after, 2),
        "views_counted": counted,
        "views_counted_without_a_200": counted - len(served),
    }
    assert len(served) > 100
    assert counted >= len(served), FIGURES["worker_sigkill"]
    assert counted - len(served) <= len(failed), FIGURES["worker_sigkill"]


# --- SIGKILL of an import -----------------------------------------------------------------------


def write_content(folder: Path, *, questions: int, resources: int, prefix: str) -> Path:
    (folder / "files").mkdir(parents=True, exist_ok=True)
    items = []
    for n in range(resources):
        (folder / "files" / f"{prefix}-{n}.txt").write_bytes(os.urandom(64 * 1024))
        items.append({"key": f"{prefix}-r{n}", "title": f"资源 {n}", "file": f"files/{prefix}-{n}.txt"})
    answer = "## 小节\n\n" + "这是一个用于导入测试的较长回答，含 **Markdown** 与 `code`。\n\n" * 30
    content = {
        "questions": [
            {"key": f"{prefix}-q{n}", "title": f"导入问题 {prefix} {n}", "answer": answer, "tags": ["导入"],
             "resources": [f"{prefix}-r{n % resources}"] if resources else []}
            for n in range(questions)
        ],
        "resources": items,
    }  # fmt: skip
    path = folder / "content.json"
    path.write_text(json.dumps(content, ensure_ascii=False))
    return path


def count_rows(database: str, table: str) -> int:
    with contextlib.closing(sqlite3.connect(database.removeprefix("sqlite:///"))) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names


def manage(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def test_a_killed_import_writes_nothing_and_the_next_run_removes_its_files(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = bench_environment(tmp_path, database)
    media = Path(env["MEDIA_ROOT"])
    assert manage(env, "migrate", "--noinput").returncode == 0
    baseline = write_content(tmp_path / "baseline", questions=2, resources=1, prefix="base")
    assert manage(env, "import_content", str(baseline)).returncode == 0
    questions = count_rows(database, "qa_question")
    resources = count_rows(database, "resources_resource")
    files = files_in(media)

    big = write_content(tmp_path / "big", questions=3000, resources=30, prefix="big")
    importer = subprocess.Popen([sys.executable, "manage.py", "import_content", str(big)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        # Killed once every file is stored and the questions are being written.
        deadline = time.monotonic() + 120
        while not any(len(j.read_text().splitlines()) >= 30 for j in (media / INCOMING).glob("import-*")):
            assert importer.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(1.0)
        assert importer.poll() is None, "the import ended before it could be killed"
        importer.send_signal(signal.SIGKILL)
    finally:
        importer.kill()
        importer.wait()

    assert count_rows(database, "qa_question") == questions
    assert count_rows(database, "resources_resource") == resources
    left = sorted(set(files_in(media)) - set(files))
    journal = [line for j in (media / INCOMING).glob("import-*") for line in j.read_text().splitlines()]
    strays = [name for name in left if not name.startswith(INCOMING)]
    FIGURES["import_sigkill"] = {"files_left_by_the_kill": len(strays), "journalled": len(journal)}
    assert strays and set(strays) <= set(journal)  # a killed process cannot clean up, but it wrote down what

    small = write_content(tmp_path / "next", questions=1, resources=1, prefix="next")
    assert manage(env, "import_content", str(small)).returncode == 0
    after = files_in(media)
    assert len(after) == len(files) + 1 and set(files) <= set(after)
    assert not [name for name in after if name.startswith(INCOMING)]


# --- a bounded soak -------------------------------------------------------------------------------


def test_a_bounded_soak_keeps_worker_memory_flat(tmp_path):
    """20,000 mixed requests; `make soak` runs 200,000 (docs/performance.md)."""
    result = soak(20_000, log=tmp_path / "gunicorn.log")
    FIGURES["soak_20k"] = {
        "requests": result.requests,
        "errors": result.errors,
        "seconds": round(result.seconds, 1),
        "rss_growth": None if result.workers_replaced else round(result.growth, 4),
    }
    assert not result.workers_replaced
    assert result.errors == 0
    assert result.growth < 0.10
