"""gunicorn settings shared by `make run`, the Dockerfile and the benchmarks.

Every value can be overridden on the command line or with GUNICORN_* variables.
"""

import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Load the app once in the master so workers fork with it already imported.
preload_app = True
# Recycling a worker bounds slow leaks but empties its local-memory cache of
# rendered pages; at a few thousand requests per second 5,000 meant a restart
# every few seconds, so the bound is high enough to be rare under load.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10
# GUNICORN_ACCESSLOG= (empty) turns the access log off, e.g. for load tests.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
errorlog = "-"
# Access lines as JSON with the X-Request-ID the app answered with (config.logging).
logger_class = "config.logging.GunicornJsonLogger"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
limit_request_line = 8190
# Worker heartbeats on tmpfs: a container's overlay disk can stall them into false timeouts.
if os.path.isdir("/dev/shm"):  # noqa: S108 - a fixed tmpfs path, not a temp file
    worker_tmp_dir = "/dev/shm"  # noqa: S108
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The control socket (gunicornc: worker status, scaling, reload) is off unless
# GUNICORN_CONTROL_SOCKET names one, e.g. var/gunicorn.ctl; gunicorn's default
# is one path in $HOME that every gunicorn of the user would fight over.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if _control_socket:
    control_socket = _control_socket
else:
    control_socket_disable = True
