"""``python -m config.nginx render PREFIX`` writes the configuration;
``python -m config.nginx serve`` runs nginx on $PORT in front of gunicorn on
the next port, both on loopback, until Ctrl-C (``make serve-nginx``)."""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from config.nginx import ACCEL_PREFIX, ROOT, Nginx, render, wait_for


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.nginx")
    sub = parser.add_subparsers(dest="command", required=True)
    render_cmd = sub.add_parser("render", help="write zhiku.conf, nginx.conf and the error pages")
    render_cmd.add_argument("prefix", type=Path)
    render_cmd.add_argument("--listen", default="127.0.0.1:8080")
    render_cmd.add_argument("--upstream", default="127.0.0.1:8000", help="gunicorn's address")
    serve_cmd = sub.add_parser("serve", help="nginx and gunicorn together on loopback")
    serve_cmd.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve_cmd.add_argument("--prefix", type=Path, default=ROOT / "var" / "nginx")
    args = parser.parse_args(argv)

    # The settings the stack needs, before Django reads them.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if args.command == "serve":
        os.environ.setdefault("ZHIKU_ACCEL_REDIRECT", ACCEL_PREFIX)
        os.environ.setdefault("ZHIKU_TRUSTED_PROXIES", "1")
    import django

    django.setup()
    if args.command == "render":
        print(render(args.prefix, listen=args.listen, upstream=args.upstream))
        return 0

    upstream_port = args.port + 1
    conf = render(args.prefix, listen=f"127.0.0.1:{args.port}", upstream=f"127.0.0.1:{upstream_port}")
    gunicorn = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi",
        "-c",
        "config/gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{upstream_port}",
    ]
    app = subprocess.Popen(gunicorn, cwd=ROOT)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop both on TERM, like Ctrl-C
    try:
        wait_for(upstream_port, procs=[app])
        with Nginx(conf) as nginx:
            wait_for(args.port, procs=[nginx.proc])
            print(f"Zhiku behind nginx on http://127.0.0.1:{args.port}/  (Ctrl-C stops both)", flush=True)
            nginx.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        app.terminate()
        app.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
