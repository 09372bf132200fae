"""EvoLab settings: one module, configured from the environment (12-factor).

Every environment variable is read here and nowhere else. Defaults give the embedded
single-machine set-up (SQLite under var/, the embedded Redis-compatible server that
`make run` starts); EVOLAB_PRODUCTION=true refuses unsafe values at start-up.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import dj_database_url

from evolab.environment import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    training_options,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# Importing settings creates and writes nothing: `make run` (evolab.launch) makes var/ and
# its secret key; tests and the integration harness make their own folders.
VAR_DIR = Path(os.environ.get("EVOLAB_VAR_DIR") or BASE_DIR / "var").resolve()


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret_key() -> str:
    """The key `make run` generated under var/ (local use only; production sets SECRET_KEY).
    Before it exists (tests, a harness with its own var/), a key derived from var/'s path:
    the same in every process that shares that folder, and never written anywhere."""
    path = VAR_DIR / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    return "insecure-local-" + hashlib.sha256(str(VAR_DIR).encode()).hexdigest()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or _local_secret_key()
SECRET_KEY_FROM_ENV = bool(os.environ.get("SECRET_KEY"))
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

# A production deployment (compose.yaml sets EVOLAB_PRODUCTION=true) refuses to start with
# settings that would expose it: a generated SECRET_KEY, any host, or DEBUG.
PRODUCTION = env_bool("EVOLAB_PRODUCTION", False)
if PRODUCTION:
    from django.core.exceptions import ImproperlyConfigured

    if not SECRET_KEY_FROM_ENV or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("production needs SECRET_KEY set (at least 32 characters)")
    if "*" in ALLOWED_HOSTS or not ALLOWED_HOSTS:
        raise ImproperlyConfigured("production refuses ALLOWED_HOSTS=*: list the host names")
    if DEBUG:
        raise ImproperlyConfigured("production refuses DEBUG=true")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "evolab.accounts",
    "evolab.experiments",
    "evolab.notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "evolab.security_headers.ContentSecurityPolicyMiddleware",  # strict CSP, every response
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "evolab.request_limits.RefuseNulCharacters",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "evolab.urls"
ASGI_APPLICATION = "evolab.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "evolab.accounts.context_processors.roles",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'evolab.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web server read while a worker writes; IMMEDIATE takes the write lock
    # at BEGIN, which serialises selection transactions (correct on SQLite too)
    # and avoids the deadlock-prone upgrade from a read to a write lock.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters bound by the server and a statement prepared from its second use: the
    # coordinator runs the same few statements on every step, and planning them each time
    # (Django's default, client-side binding) was a quarter of PostgreSQL's CPU per step
    # (bench/README.md, scale). EVOLAB_DB_PREPARE=false restores Django's default.
    if env_bool("EVOLAB_DB_PREPARE", True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=2
        )
    # Many threads of one process share a bounded pool instead of a connection each
    # (PostgreSQL allows 100 by default); EVOLAB_DB_POOL=0 turns pooling off.
    if env_int("EVOLAB_DB_POOL", 0) > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env_int("EVOLAB_DB_POOL", 0),
            "timeout": 60,
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and Channels layer ------------------------------------------
EMBEDDED_REDIS_PORT = env_int("EVOLAB_EMBEDDED_REDIS_PORT", 6389)
REDIS_URL = os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
REDIS_IS_EMBEDDED = not os.environ.get("REDIS_URL")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # A consumer waits on Redis in blocking reads of 5 s (channels_redis' brpop
            # timeout); redis-py's default socket timeout is 5 s too, so an idle socket's
            # read timed out and closed it (1011). The socket timeout must exceed the read's.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
            "prefix": os.environ.get("EVOLAB_CHANNEL_PREFIX", "evolab"),
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

# Django's cache holds the sign-in throttle's counters (evolab/accounts/throttle.py), which
# every web process must share: Redis when REDIS_URL is set; the embedded set-up (`make run`:
# one web process; the embedded server is no full Redis) keeps them in that process's memory.
if REDIS_IS_EMBEDDED:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # One name space per deployment sharing a Redis, like the channel layer's.
            "KEY_PREFIX": CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] + ":cache",
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    }

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("EVOLAB_QUEUE", "cpu")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A step that outlives this is redelivered; lease tokens make the second copy harmless.
    "visibility_timeout": env_int("EVOLAB_VISIBILITY_TIMEOUT", 3600),
    "global_keyprefix": os.environ.get("EVOLAB_BROKER_PREFIX", ""),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves from the finders; it only warns when this folder does not exist.
warnings.filterwarnings("ignore", message="No directory at: ")
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media")).resolve()
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EVOLAB_DATA_DIR = Path(os.environ.get("EVOLAB_DATA_DIR", VAR_DIR / "data")).resolve()
# Workers on several machines share weights through S3-compatible storage when a bucket is
# set (credentials: the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, read by boto3).
EVOLAB_S3_BUCKET = os.environ.get("EVOLAB_S3_BUCKET", "")
if EVOLAB_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": EVOLAB_S3_BUCKET,
            "endpoint_url": os.environ.get("EVOLAB_S3_ENDPOINT_URL") or None,
            "location": os.environ.get("EVOLAB_S3_PREFIX", "evolab"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

# --- Auth, sessions -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# A new password (the change and reset pages, the admin, `manage.py changepassword`) revokes
# the user's API tokens: whoever learnt the old password may have made one. Set false to keep
# them (scripts keep working through a routine password rotation).
EVOLAB_REVOKE_TOKENS_ON_PASSWORD_CHANGE = env_bool("EVOLAB_REVOKE_TOKENS_ON_PASSWORD_CHANGE", True)
if EVOLAB_REVOKE_TOKENS_ON_PASSWORD_CHANGE:
    AUTH_PASSWORD_VALIDATORS.append({"NAME": "evolab.accounts.passwords.RevokeApiTokens"})
# Sign-in throttle (evolab/accounts/throttle.py): this many wrong passwords for one username,
# or ADDRESS_LIMIT failed sign-ins and API tokens from one client address (0: no limit per
# address, e.g. behind a proxy that hides the clients' addresses), within WINDOW seconds,
# refuse that username or address for WINDOW seconds without checking the password.
EVOLAB_LOGIN_FAILURE_LIMIT = env_int("EVOLAB_LOGIN_FAILURE_LIMIT", 5, minimum=1)
EVOLAB_LOGIN_ADDRESS_FAILURE_LIMIT = env_int("EVOLAB_LOGIN_ADDRESS_FAILURE_LIMIT", 20, minimum=0)
EVOLAB_LOGIN_FAILURE_WINDOW = env_int("EVOLAB_LOGIN_FAILURE_WINDOW", 300, minimum=1)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/experiments/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Password reset mails: printed to the console unless a real backend is configured.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "evolab@localhost")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 86400)
# No open sign-up: accounts come from an admin or an invitation link. Set true to let
# anyone with the site's address create an account (they join no team until invited).
EVOLAB_OPEN_SIGNUP = env_bool("EVOLAB_OPEN_SIGNUP", False)

# --- HTTPS and cookies ----------------------------------------------------------------
# HTTPS=true when the site is served over TLS (directly or behind a proxy): it turns on
# redirects, secure cookies and HSTS, each of which can still be set on its own. The
# embedded default (plain http on 127.0.0.1) leaves them all off.
HTTPS = env_bool("HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Several named, revocable, hashed keys per user (rest_framework.authtoken allows one).
        # First, so that a missing or bad key answers 401 with WWW-Authenticate, not 403.
        "evolab.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's parsers, with JSON bounded in depth (a deep body was a RecursionError: a 500).
    "DEFAULT_PARSER_CLASSES": [
        "evolab.json_limits.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # DRF's handler, with server file paths taken out of error bodies (evolab/redaction.py).
    "EXCEPTION_HANDLER": "evolab.redaction.exception_handler",
    # `?format=` names a download format (safetensors, onnx, ...), not a renderer.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_SCHEMA_CLASS": "evolab.api_contract.ApiSchema",  # the error responses (#19.8)
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "EvoLab API",
    "DESCRIPTION": "Evolve image classifiers (Real et al., ICML 2017).",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The same choices are called the same everywhere; name the enums once.
    "ENUM_NAME_OVERRIDES": {
        "ExperimentStatusEnum": "evolab.experiments.models.Status",
        "IndividualStateEnum": "evolab.experiments.models.State",
        "RoleEnum": "evolab.accounts.models.Role",
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

_LEVELS = ("debug", "info", "warning", "error", "critical")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", _LEVELS, "info").upper()},
    # WeasyPrint (the report's PDF) logs each layout step, and the screen-only CSS it skips.
    "loggers": {"django.channels.server": {"level": "WARNING"}, "weasyprint": {"level": "ERROR"}},
}

# --- EvoLab limits (form and API validation; docs/ALGORITHM.md §1 defaults) --------------------
EVOLAB_LIMITS = {
    "max_population": env_int("EVOLAB_MAX_POPULATION", 1000),
    "max_workers": env_int("EVOLAB_MAX_WORKERS", 256),
    "max_steps_per_child": env_int("EVOLAB_MAX_STEPS", 100_000),
    "max_individuals": env_int("EVOLAB_MAX_INDIVIDUALS", 1_000_000),
}
# Lease on a child in training: a worker heartbeats while it trains; another worker may take
# the child over once the lease has expired (docs/ALGORITHM.md §1: never lose a child).
EVOLAB_LEASE_SECONDS = env_int("EVOLAB_LEASE_SECONDS", 60)
EVOLAB_KEEP_ALL_WEIGHTS = env_bool("EVOLAB_KEEP_ALL_WEIGHTS", False)
EVOLAB_MAX_UPLOAD_MB = env_int("EVOLAB_MAX_UPLOAD_MB", 512)  # imported weights (safetensors)
# How workers train (EVOLAB_DEVICE, EVOLAB_CPU_BF16, EVOLAB_CUDA_GRAPHS,
# EVOLAB_MAX_CHILD_MEMORY_MB): one frozen object, read here once (evolab.environment).
EVOLAB_TRAINING = training_options()
EVOLAB_DEVICE = EVOLAB_TRAINING.device
# A child whose estimated training memory exceeds this is never created (mutations redraw).
EVOLAB_MAX_CHILD_MEMORY_MB = EVOLAB_TRAINING.max_child_memory_mb
EVOLAB_TORCH_THREADS = env_int("EVOLAB_TORCH_THREADS", 1, minimum=1)  # per worker process
EVOLAB_RECONCILE_SECONDS = env_float("EVOLAB_RECONCILE_SECONDS", 5.0)
# Launchers: `make run` (evolab.launch) and `manage.py gpuworkers`.
EVOLAB_PORT = env_int("PORT", 8000, minimum=1)
EVOLAB_WORKER_CONCURRENCY = env_int("EVOLAB_WORKER_CONCURRENCY", os.cpu_count() or 1, minimum=1)
EVOLAB_ADMIN_PASSWORD = os.environ.get("EVOLAB_ADMIN_PASSWORD", "")
_PER_GPU = os.environ.get("EVOLAB_WORKERS_PER_GPU", "").strip() or "auto"
if _PER_GPU != "auto" and not (_PER_GPU.isascii() and _PER_GPU.isdigit() and int(_PER_GPU) > 0):
    raise ValueError(f"EVOLAB_WORKERS_PER_GPU={_PER_GPU!r}: expected auto or a whole number >= 1")
EVOLAB_WORKERS_PER_GPU = _PER_GPU
EVOLAB_MPS = env_choice("EVOLAB_MPS", ("auto", "on", "off"), "auto")

# --- Uploaded team datasets (evolab/experiments/uploads.py, evolab/datasets/uploads.py) -------
# An archive (zip of class folders, IDX or CIFAR files) may be this large, and its entries add
# up to no more uncompressed; at most this many images, each of at most MAX_PIXELS (width x
# height; Pillow's MAX_IMAGE_PIXELS in the indexing worker); no entry compressed more than
# MAX_RATIO to 1 (zip bombs); a worker indexes it within INDEX_SECONDS (then it fails).
EVOLAB_UPLOAD_MAX_MB = env_int("EVOLAB_UPLOAD_MAX_MB", 256, minimum=1)
EVOLAB_UPLOAD_MAX_IMAGES = env_int("EVOLAB_UPLOAD_MAX_IMAGES", 100_000, minimum=1)
EVOLAB_UPLOAD_MAX_PIXELS = env_int("EVOLAB_UPLOAD_MAX_PIXELS", 4096 * 4096, minimum=1)
EVOLAB_UPLOAD_MAX_RATIO = env_float("EVOLAB_UPLOAD_MAX_RATIO", 100.0)
EVOLAB_UPLOAD_INDEX_SECONDS = env_int("EVOLAB_UPLOAD_INDEX_SECONDS", 600, minimum=1)

# --- Notifications (evolab/notifications/): e-mails and signed webhooks on run events -------
# Links in notices start with this (the address users open the site at).
EVOLAB_SITE_URL = os.environ.get("EVOLAB_SITE_URL", "").strip() or f"http://127.0.0.1:{EVOLAB_PORT}"
# Webhooks reach public addresses only (checked at save and at every delivery); true lets
# them reach loopback, private and link-local ones too (a lab's own receiver, tests).
EVOLAB_WEBHOOK_ALLOW_PRIVATE = env_bool("EVOLAB_WEBHOOK_ALLOW_PRIVATE", False)
EVOLAB_WEBHOOK_TIMEOUT = env_float("EVOLAB_WEBHOOK_TIMEOUT", 5.0)  # seconds, whole exchange
# A failed delivery is tried again after BACKOFF, 2 x BACKOFF, 4 x ... seconds, ATTEMPTS in all.
EVOLAB_NOTIFY_ATTEMPTS = env_int("EVOLAB_NOTIFY_ATTEMPTS", 5, minimum=1)
EVOLAB_NOTIFY_BACKOFF_SECONDS = env_float("EVOLAB_NOTIFY_BACKOFF_SECONDS", 10.0)
