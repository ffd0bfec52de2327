"""nginx in front of gunicorn: the site configuration rendered from the Django
settings, the error pages nginx answers by itself, and a runner that starts
nginx and gunicorn together in a scratch prefix (``python -m config.nginx``).

docs/deploy.md describes the layout; tests/test_nginx.py runs it for real.
"""

import getpass
import http.client
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MIB = 1024 * 1024
ACCEL_PREFIX = "/protected-media/"
# Room for multipart boundaries and the other form fields around an upload.
FORM_ROOM_MIB = 1


def site_values(*, listen: str, upstream: str, errors_root: Path, server_name: str = "_") -> dict:
    """The @NAMES@ of zhiku.conf.template, from the configured Django settings."""
    from csp.utils import build_policy
    from django.conf import settings

    from resources import tools

    return {
        "LISTEN": listen,
        "UPSTREAM": upstream,
        "SERVER_NAME": server_name,
        "STATIC_ROOT": str(Path(settings.STATIC_ROOT).resolve()),
        "MEDIA_ROOT": str(Path(settings.MEDIA_ROOT).resolve()),
        "ACCEL_PREFIX": settings.ZHIKU_ACCEL_REDIRECT or ACCEL_PREFIX,
        "ERRORS_ROOT": str(errors_root.resolve()),
        "ADMIN_BODY_LIMIT": f"{-(-settings.ZHIKU_UPLOAD_MAX_BYTES // MIB) + FORM_ROOM_MIB}m",
        # Exactly what the image tool reads: it refuses a longer body unread, and
        # nginx, still sending that body, would turn the refusal into a 502.
        "INVERT_BODY_LIMIT": str(tools.MAX_REQUEST_BYTES),
        "CSP": build_policy(),
    }


def fill(template: str, values: dict) -> str:
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    if "@" in "".join(line.split("#")[0] for line in template.splitlines()):
        raise ValueError("a placeholder of the nginx template was left unfilled")
    return template


def render_error_pages(directory: Path) -> None:
    """413.html from the site's templates (same look, same static files) and 413.json for the API."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from resources import imaging

    directory.mkdir(parents=True, exist_ok=True)
    with translation.override("zh-hans"):
        html = render_to_string("413.html", {"limit_mib": imaging.MAX_BYTES // MIB})
    (directory / "413.html").write_text(html, encoding="utf-8")
    message = "The request is too large (images: at most 10 MiB)."
    (directory / "413.json").write_text(json.dumps({"error": message}), encoding="utf-8")


def render(prefix: Path, *, listen: str, upstream: str, mime_types: str = "/etc/nginx/mime.types") -> Path:
    """Write zhiku.conf, a standalone nginx.conf and the error pages under ``prefix``;
    return the path of nginx.conf. Needs Django set up."""
    prefix = prefix.resolve()
    for sub in ("logs", "tmp", "errors"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    render_error_pages(prefix / "errors")
    site = fill(
        (HERE / "zhiku.conf.template").read_text(),
        site_values(listen=listen, upstream=upstream, errors_root=prefix / "errors"),
    )
    (prefix / "zhiku.conf").write_text(site)
    # Run as root (a container, CI), workers would drop to "nobody" and could
    # not read a private MEDIA_ROOT or STATIC_ROOT.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    standalone = fill(
        (HERE / "standalone.conf.template").read_text(),
        {"PREFIX": str(prefix), "USER": user, "MIME_TYPES": mime_types},
    )
    (prefix / "nginx.conf").write_text(standalone)
    return prefix / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not found:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
    return found


def wait_for(port: int, path: str = "/healthz", *, timeout: float = 60.0, procs=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered {path} on port {port} within {timeout}s")


class Nginx:
    """``nginx -p prefix -c nginx.conf -g 'daemon off;'`` as a child process."""

    def __init__(self, conf: Path):
        self.conf = conf
        self.proc = None

    def __enter__(self):
        prefix = self.conf.parent
        test = subprocess.run(
            [nginx_binary(), "-t", "-q", "-p", str(prefix), "-c", str(self.conf)],
            capture_output=True,
            text=True,
        )
        if test.returncode != 0:
            raise RuntimeError(f"nginx rejected {self.conf}:\n{test.stderr}")
        self.proc = subprocess.Popen(
            [nginx_binary(), "-p", str(prefix), "-c", str(self.conf), "-g", "daemon off;"]
        )
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
