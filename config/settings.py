"""Zhiku settings, driven by environment variables with safe local defaults.

Production behaviour is switched on by ``DJANGO_ENV=production``; there is no
separate settings file. See docs/configuration.md for every variable.
"""

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.logging import logging_config
from config.middleware import add_static_security_headers

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """A yes/no variable; anything but the usual spellings stops startup,
    so ``DJANGO_SSL_REDIRECT=flase`` cannot quietly mean false."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r}: expected one of true/false, 1/0, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < minimum:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a whole number of at least {minimum}.")
    return int(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


_RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def env_rate(name: str, default: str) -> tuple[int, int]:
    """``"60/m"``, ``"5/15m"`` or ``"100/30s"`` as (requests, window in seconds)."""
    value = os.environ.get(name, "").strip() or default
    count, _, period = value.replace(" ", "").lower().partition("/")
    number, unit = period[:-1] or "1", period[-1:]
    valid = count.isdigit() and number.isdigit() and unit in _RATE_UNITS
    if not valid or int(count) == 0 or int(number) == 0:
        raise ImproperlyConfigured(f"{name}={value!r}: expected requests/period such as 60/m or 5/15m.")
    return int(count), int(number) * _RATE_UNITS[unit]


PRODUCTION = os.environ.get("DJANGO_ENV", "local").strip().lower() == "production"

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "").strip()
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_ENV=production.")
    # Local use: generate one key once and keep it, so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        try:
            with open(path, "x") as fh:
                fh.write(key)
        except FileExistsError:
            # Another process won the race; use its key.
            return path.read_text().strip()
        return key


SECRET_KEY = _secret_key()

if PRODUCTION and not os.environ.get("DJANGO_ALLOWED_HOSTS", "").strip():
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_ENV=production.")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "config.apps.ZhikuAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django_filters",
    "ninja",  # its static files: Swagger UI for /api/docs/
    "csp",
    "reversion",
    "qa",
    "resources",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "config.middleware.PublicAPIReadsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
            "libraries": {"site": "config.templatetags"},
        },
    },
]

# --- Database -----------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "").strip() or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets readers run beside one writer; IMMEDIATE takes the write lock at
    # BEGIN so concurrent gunicorn workers queue on busy_timeout instead of
    # failing with "database is locked" when a read transaction upgrades.
    # Connections are kept (CONN_MAX_AGE from above, one per gunicorn thread):
    # opening a file and running the PRAGMAs on every request is a large share
    # of a cached page's cost (docs/performance.md).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA cache_size=-20000;"
        ),
    }
    # Tests use a file, not :memory:, so live-server threads get connections of
    # their own and concurrency tests exercise real locking; one file per
    # process keeps parallel runs apart.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("SQLITE_TEST_NAME")
        or str(Path(tempfile.gettempdir()) / f"zhiku-test-{os.getpid()}.sqlite3")
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # template0 + UTF8 so the test database never inherits a non-UTF-8 template.
    DATABASES["default"]["TEST"] = {"TEMPLATE": "template0", "CHARSET": "UTF8"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, except that an unreachable Redis is a miss, not an error.
            "BACKEND": "config.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "zhiku",
            # A stalled Redis must not hold a worker until gunicorn's timeout.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "zhiku",
            # Rendered question pages (~20 KB) and related-question lists live
            # here; the default 300 entries would evict them under normal browsing.
            "OPTIONS": {"MAX_ENTRIES": 3000},
        }
    }

# --- Auth and sessions ------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Internationalisation -----------------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------------------

STATIC_URL = "/static/"
# Overridable so a benchmark or a container can collect into a directory of its own.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", "").strip() or VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", "").strip() or VAR_DIR / "media")
STORAGES = {
    # FileSystemStorage whose writes are all or nothing (a full disk leaves no partial file).
    "default": {"BACKEND": "config.storage.MediaStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Several app hosts need one media store: S3 or any S3-compatible service
# (MinIO, Ceph, Cloudflare R2, Aliyun OSS). Credentials come from the standard
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables, read by boto3.
S3_BUCKET = os.environ.get("ZHIKU_S3_BUCKET", "").strip()
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": os.environ.get("ZHIKU_S3_ENDPOINT_URL", "").strip() or None,
            "region_name": os.environ.get("ZHIKU_S3_REGION", "").strip() or None,
            "location": os.environ.get("ZHIKU_S3_PREFIX", "media").strip(),
            # Private objects; the download view streams them and counts the download.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
WHITENOISE_MAX_AGE = 3600
WHITENOISE_ADD_HEADERS_FUNCTION = add_static_security_headers

# --- Security -------------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Figures and every other image come from the site itself (qa.media serves
        # figures from any storage); the image tool's page adds data: and blob:.
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Read in every environment, so a typo fails on a laptop before it reaches production.
ssl_redirect = env_bool("DJANGO_SSL_REDIRECT", True)
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = ssl_redirect
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
    # /healthz and /readyz are probed over plain HTTP by load balancers.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- Logging --------------------------------------------------------------------------------

# Errors go to the log with the request id (config.middleware), never to the visitor.
LOGGING = logging_config(os.environ.get("DJANGO_LOG_LEVEL", "INFO").upper())

# --- Zhiku ----------------------------------------------------------------------------------

ZHIKU_RATELIMIT = env_bool("ZHIKU_RATELIMIT", True)
# scope -> (requests, seconds); ZHIKU_RATELIMIT_SEARCH=60/m etc. override each one.
ZHIKU_RATELIMITS = {
    scope: env_rate(f"ZHIKU_RATELIMIT_{scope.upper().replace('-', '_')}", default)
    for scope, default in {
        "search": "60/m",
        "invert": "20/m",
        "download": "60/m",
        # Failed admin logins per address and username (config.admin).
        "admin-login": "5/15m",
    }.items()
}
# How many proxies (load balancer, CDN) append to X-Forwarded-For in front of
# gunicorn; 0 trusts only the socket address. See docs/deploy.md.
ZHIKU_TRUSTED_PROXIES = int(os.environ.get("ZHIKU_TRUSTED_PROXIES", "0"))
# A repeat view of one question from one browser within this window counts once.
ZHIKU_VIEW_DEDUP_SECONDS = 30 * 60
ZHIKU_PAGE_SIZE = 20
# Search by meaning (qa.search.embeddings): a multilingual model shipped in a
# package embeds questions on save and queries on search. Off, or when the
# model cannot load, search is lexical only (docs/search.md).
ZHIKU_SEMANTIC_SEARCH = env_bool("ZHIKU_SEMANTIC_SEARCH", True)

# Resource uploads (admin): size limit and extension allowlist. HTML and
# scripts a browser would run are deliberately absent; SVG is only ever sent
# as an attachment.
ZHIKU_UPLOAD_MAX_BYTES = int(os.environ.get("ZHIKU_UPLOAD_MAX_MB", "100")) * 1024 * 1024
ZHIKU_UPLOAD_EXTENSIONS = env_list(
    "ZHIKU_UPLOAD_EXTENSIONS",
    "pdf,zip,rar,7z,gz,tgz,tar,bz2,xz,exe,msi,jar,jsp,java,py,txt,md,csv,json,"
    "doc,docx,xls,xlsx,ppt,pptx,ttf,otf,woff,woff2,png,jpg,jpeg,gif,webp,svg",
)

# --- Serving files and probes (docs/deploy.md) ------------------------------------------------

# Downloads streamed by a worker thread, at most this many at once per process;
# the rest get 503 with Retry-After, so slow clients never hold every thread.
# Unused for nginx (X-Accel-Redirect) and S3 (presigned redirect) downloads.
ZHIKU_MAX_DOWNLOADS_PER_WORKER = env_int(
    "ZHIKU_MAX_DOWNLOADS_PER_WORKER",
    max(1, env_int("GUNICORN_THREADS", 4, minimum=1) // 2),
    minimum=1,
)
# Behind nginx: the internal location that serves MEDIA_ROOT, e.g. /protected-media/.
# Django counts the download and sets the headers; nginx sends the bytes.
ZHIKU_ACCEL_REDIRECT = os.environ.get("ZHIKU_ACCEL_REDIRECT", "").strip()
if ZHIKU_ACCEL_REDIRECT and not (ZHIKU_ACCEL_REDIRECT.startswith("/") and ZHIKU_ACCEL_REDIRECT.endswith("/")):
    raise ImproperlyConfigured(
        f"ZHIKU_ACCEL_REDIRECT={ZHIKU_ACCEL_REDIRECT!r}: expected a path such as /protected-media/."
    )
# On S3 a download is counted, then redirected to a presigned URL valid this long.
ZHIKU_PRESIGNED_DOWNLOADS = bool(S3_BUCKET)
ZHIKU_PRESIGNED_SECONDS = env_int("ZHIKU_PRESIGNED_SECONDS", 300, minimum=1)
# Each /readyz check (database, cache, storage) gives up after this many seconds.
ZHIKU_READYZ_TIMEOUT = float(env_int("ZHIKU_READYZ_TIMEOUT_MS", 2000, minimum=1)) / 1000
