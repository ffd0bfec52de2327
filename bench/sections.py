"""Table rows that need more than the page server: the image tool, import, cold start."""

import http.client
import json
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.server import BIN, ROOT, Gunicorn, free_port, wait_for_healthz

PY = str(BIN / "python")
DEMO = ROOT / "qa" / "demo" / "demo.json"


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing for {pid}")


def _post_image(port: int, path: Path, mode: str) -> tuple[int, float]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\n{mode}\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '.encode(),
            f'filename="{path.name}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            path.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    conn.request(
        "POST", "/api/tools/invert/", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    response = conn.getresponse()
    response.read()
    return response.status, time.perf_counter() - start


def imaging(server: Gunicorn, *, repeat: int) -> list:
    """API round trip for 12-megapixel files against the same work done in-process."""
    from bench import imaging_bench
    from bench.run import Row

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        inputs = imaging_bench.make_inputs(Path(folder))
        decoded_mib = imaging_bench.SIZE[0] * imaging_bench.SIZE[1] * 3 / 2**20  # RGB, 8 bits
        for fmt, path in inputs.items():
            floor = imaging_bench.measure(path, "gray", repeat)["seconds"]
            status, _ = _post_image(server.port, path, "gray")  # warm the worker
            if status != 200:
                rows.append(Row(f"image tool API {fmt}", f"not measured: HTTP {status}"))
                continue
            times, peaks = [], []
            for _ in range(repeat):
                workers = server.worker_pids()
                for pid in workers:  # start each worker's high-water mark afresh
                    Path(f"/proc/{pid}/clear_refs").write_text("5")
                before = {pid: _status_kib(pid, "VmRSS") for pid in workers}
                status, seconds = _post_image(server.port, path, "gray")
                times.append(seconds)
                peaks.append(max(_status_kib(pid, "VmHWM") - before[pid] for pid in workers) / 1024)
            ratio = statistics.median(times) / floor
            size = path.stat().st_size / 2**20
            rows.append(
                Row(
                    f"image tool: API round trip / in-process invert ({fmt} {size:.1f} MiB, 12 MP)",
                    f"{ratio:.2f} ({statistics.median(times) * 1000:.0f} ms / {floor * 1000:.0f} ms)",
                    "≤ 1.3",
                    ratio <= 1.3,
                )
            )
            peak = max(peaks)
            rows.append(
                Row(
                    f"image tool: worker peak memory growth ({fmt}) / decoded RGB ({decoded_mib:.0f} MiB)",
                    f"{peak / decoded_mib:.1f}× ({peak:.0f} MiB)",
                    "≤ 4×",
                    peak / decoded_mib <= 4,
                )
            )
    return rows


def _import_file(folder: Path, questions: int) -> Path:
    from bench.content import ACTIONS, TOPICS, VERBS

    items = []
    for n in range(questions):
        topic = TOPICS[n % len(TOPICS)]
        items.append(
            {
                "key": f"imp-{n}",
                "title": f"{VERBS[n % len(VERBS)]}用 {topic} {ACTIONS[n % len(ACTIONS)]}？（{n}）",
                "answer": f"用 **{topic}** 可以这样做：\n\n```python\nprint({n})\n```\n\n第 {n} 条回答。",
                "tags": sorted({topic, TOPICS[(n * 7 + 1) % len(TOPICS)]}),
                "created": "2024-08-27T22:04:20+08:00",
                "views": n % 100,
                "related": [f"imp-{n - 1}"] if n else [],
            }
        )
    path = folder / "content.json"
    path.write_text(json.dumps({"questions": items, "resources": []}, ensure_ascii=False))
    return path


def import_speed(env: dict, *, questions: int) -> list:
    """``import_content`` of ``questions`` new questions into an empty database."""
    from bench.run import Row, has_command, not_measured

    if not has_command("import_content"):
        return [not_measured("import speed", "no import_content command")]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        env = {**env, "DATABASE_URL": f"sqlite:///{folder / 'import.sqlite3'}"}
        subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        path = _import_file(folder, questions)
        start = time.perf_counter()
        subprocess.run([PY, "manage.py", "import_content", str(path)], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=600)  # fmt: skip
        seconds = time.perf_counter() - start
    return [
        Row(
            f"import speed: {questions:,} questions into SQLite (questions/s, incl. search indexing)",
            f"{questions / seconds:.0f} ({seconds:.1f} s)",
        )
    ]


def cold_start(env: dict) -> list:
    """The steps of `make run` after the virtualenv exists, on an empty database."""
    from bench.run import Row

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        env = {
            **env,
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
            "DJANGO_STATIC_ROOT": str(folder / "static"),
            "MEDIA_ROOT": str(folder / "media"),
            "GUNICORN_ACCESSLOG": "",
        }
        steps = {}

        def step(name, *args):
            start = time.perf_counter()
            subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
            steps[name] = time.perf_counter() - start

        step("migrate", "migrate", "--noinput")
        if DEMO.exists():
            step("load demo", "load_demo", str(DEMO))
        step("collectstatic", "collectstatic", "--noinput", "--verbosity", "0")
        port = free_port()
        start = time.perf_counter()
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "-c",
                "config/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
            ],  # noqa: E501
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_healthz(port, proc=proc)
            steps["gunicorn to /healthz"] = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    total = sum(steps.values())
    detail = ", ".join(f"{name} {seconds:.1f}" for name, seconds in steps.items())
    return [Row("`make run` cold start after venv (s)", f"{total:.1f} ({detail})")]
