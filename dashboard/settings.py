"""LiveSettle settings: one module, configured from the environment.

With nothing set it runs the one-process demo: SQLite and the in-memory channel layer.
"""

import os
import re
import secrets
import sys
import tempfile
import warnings
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from csp.constants import NONCE, NONE, SELF

from payments.network import is_loopback

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def kept_secret(path: Path, make) -> str:
    """A secret generated once and kept in a file only its owner reads (like the operator's)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        value = make()
        out.write(value + "\n")
    return value


ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
    if h.strip()
]
# Where other devices reach this server (`demo --lan` sets it): every absolute link (the
# phone QR codes, `checkout_url`) is built from it, and its host and origin are allowed (so
# a non-loopback PUBLIC_URL turns DEBUG off, below). SITE_URL is its older name. Empty:
# links are relative, and a QR code carries the address its page was loaded from.
PUBLIC_URL = (os.environ.get("PUBLIC_URL") or os.environ.get("SITE_URL", "")).strip().rstrip("/")
SITE_URL = PUBLIC_URL
PUBLIC_ORIGIN = ""
if PUBLIC_URL:
    _public = urlsplit(PUBLIC_URL)
    if _public.scheme not in {"http", "https"} or not _public.hostname:
        raise ImproperlyConfigured(f"PUBLIC_URL must look like http://192.168.1.20:8000, not {PUBLIC_URL!r}.")
    PUBLIC_ORIGIN = f"{_public.scheme}://{_public.netloc}"
    if _public.hostname not in ALLOWED_HOSTS and "*" not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_public.hostname)
NETWORK_HOSTS = [h for h in ALLOWED_HOSTS if not is_loopback(h)]
# Whether only this machine reaches the server (the demo sets it off when it binds beyond
# loopback): callbacks to loopback receivers are allowed by default only then.
SERVES_LOOPBACK_ONLY = not NETWORK_HOSTS
# Developer-friendly DEBUG only while the server answers to loopback names: once other
# devices may reach it, a traceback page would hand them settings, paths and URLs.
DEBUG = env_bool("DEBUG", not NETWORK_HOSTS)
DEBUG_FROM_ENVIRONMENT = bool(os.environ.get("DEBUG", "").strip())
ALLOW_DEBUG_ON_NETWORK = env_bool("ALLOW_DEBUG_ON_NETWORK", False)
if DEBUG and NETWORK_HOSTS and not ALLOW_DEBUG_ON_NETWORK:
    raise ImproperlyConfigured(
        f"DEBUG is on while ALLOWED_HOSTS lets other devices in ({', '.join(NETWORK_HOSTS)}): "
        "set DEBUG=0, or ALLOW_DEBUG_ON_NETWORK=1 to show tracebacks to them anyway."
    )
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Development: a random key kept beside the code, never a public fixed string.
    SECRET_KEY = kept_secret(BASE_DIR / ".secret-key", lambda: secrets.token_urlsafe(50))

CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
if PUBLIC_ORIGIN and PUBLIC_ORIGIN not in CSRF_TRUSTED_ORIGINS:
    CSRF_TRUSTED_ORIGINS.append(PUBLIC_ORIGIN)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "payments",
    "inspector",
    "presenter",
    "consumers",
    "dashboard",
]

MIDDLEWARE = [
    # First: it times and records every MoMo call with the answer every other layer made.
    "inspector.middleware.InspectorMiddleware",
    "dashboard.security.LoopbackOnlyDebugMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.security.NoStoreWhenSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "payments.middleware.ServiceUnavailableMiddleware",
    # Last, as django-axes asks: it answers a locked-out login with its 429 page.
    "axes.middleware.AxesMiddleware",
]
# A MoMo call (a path under MTN's prefixes, momo/urls.py) that carries no session cookie
# goes through this chain instead (dashboard/handler.py): what shapes its answer, in the
# same order, without the browser's layers (WhiteNoise, session, CSRF, Django auth, the
# signed-in no-store, messages, axes), which make nothing of a call without a session:
# every MoMo view is CSRF-exempt and authenticates by itself. What they did add to every
# MoMo answer, `Vary: Cookie`, is added in the session's place.
MOMO_MIDDLEWARE = [
    "inspector.middleware.InspectorMiddleware",
    "dashboard.security.LoopbackOnlyDebugMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "dashboard.security.VaryCookieMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "payments.middleware.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    # An empty DATABASE_URL is no DATABASE_URL: the embedded default.
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections leak under ASGI (each sync_to_async thread keeps one).
        conn_max_age=0,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN so
    # two worker processes queue on the busy timeout instead of failing a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not :memory:, so tests can run worker processes against the test database.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get(
            "SQLITE_TEST_NAME", str(Path(tempfile.gettempdir()) / f"livesettle-test-{os.getpid()}.sqlite3")
        )
    }
else:
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # Names each process in pg_stat_activity ("livesettle daphne", "livesettle auto_complete_daemon").
    _program = Path(sys.argv[0])
    _command = sys.argv[1] if _program.name == "manage.py" and len(sys.argv) > 1 else ""
    _role = _command or (_program.parent.name if _program.name == "__main__.py" else _program.name)
    DATABASES["default"]["OPTIONS"].setdefault("application_name", f"livesettle {_role}"[:63])
    # A worker or a one-off command uses one ORM thread: a pool of one bounds it to one
    # connection; servers lend a connection to each request thread in flight.
    _pool_default = "1" if _command and _command not in {"demo", "runserver"} else "8"
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Parameters bound by PostgreSQL, not quoted into the SQL in Python (Django's
        # default): psycopg's C dumpers, and statements a connection runs often prepared.
        # A request to pay spent 0.16 ms of CPU quoting its INSERT (docs/performance.md).
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = env_bool("DB_SERVER_SIDE_BINDING", True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
        # Under ASGI each in-flight request runs in a thread of its own with its own
        # connection: 200 concurrent polls made two Daphne processes hold 84. A psycopg pool
        # per process bounds that (requests beyond it wait for a slot, up to `timeout`, then
        # get the 503; short, so an outage is reported in seconds). It checks a connection
        # before lending it; dashboard/pgpool says why its check differs from Django's.
        DATABASES["default"]["ENGINE"] = "dashboard.pgpool"
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", _pool_default)),
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "3")),
            # Its reconnect backoff doubles until this, then the next request starts afresh:
            # with the default (300 s) a 10 s outage took 7.6 s to recover from, not 1.3 s.
            "reconnect_timeout": 5,
        }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# `pubsub` (default) or `core`: the benchmark compares the two Redis layers.
CHANNEL_LAYER = os.environ.get("CHANNEL_LAYER", "pubsub").strip().lower()
if CHANNEL_LAYER not in {"pubsub", "core"}:
    raise ImproperlyConfigured(f"CHANNEL_LAYER must be 'pubsub' or 'core', not {CHANNEL_LAYER!r}.")
# Names every group and channel on Redis. Redis pub/sub ignores the database number in
# REDIS_URL, so deployments (or test runs, benchmarks) sharing one Redis server hear each
# other's pushes unless each has its own prefix.
CHANNEL_PREFIX = os.environ.get("CHANNEL_PREFIX", "").strip() or "asgi"
if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", CHANNEL_PREFIX):
    raise ImproperlyConfigured(f"CHANNEL_PREFIX must be 1-64 letters, digits, '_', '.' or '-', not {CHANNEL_PREFIX!r}.")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": (
                "channels_redis.pubsub.RedisPubSubChannelLayer"
                if CHANNEL_LAYER == "pubsub"
                else "channels_redis.core.RedisChannelLayer"
            ),
            "CONFIG": {
                "prefix": CHANNEL_PREFIX,
                # redis-py 8's 5 s socket_timeout closes idle subscriptions (channels_redis
                # issue 422) and its pool cap of 100 fails connect bursts.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": None,
                        "socket_connect_timeout": 2,
                        "max_connections": 10_000,
                    }
                ],
            },
        }
    }
    if CHANNEL_LAYER == "core":
        # The core layer drops sends over `capacity` (default 100) with only an INFO log.
        CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = 10_000
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 10_000, "expiry": 60},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Every login goes through authenticate(), and so through django-axes: /accounts/login/
# and /admin/login/ alike. The REST API takes the session only (no HTTP Basic: a second,
# CSRF-free password path that scripts do not need; the commands and MoMo's own auth serve).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures counted in the database: shared by every process (and kept over a restart)
# whether or not Redis is there; the in-memory cache would count per process.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_DISABLE_ACCESS_LOG = True  # no row per successful login
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(seconds=int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "900")))
# Per address, not per name: a guesser elsewhere in the room cannot lock the presenter out.
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "payments.network.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ADMIN = False
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve straight from the app directories so the demo needs no collectstatic step
# (WhiteNoise then warns that STATIC_ROOT does not exist yet: expected in development).
WHITENOISE_USE_FINDERS = DEBUG
if DEBUG:
    warnings.filterwarnings("ignore", message="No directory at")

# Creates per client on every create path (payments.ratelimit), counted in the cache.
PAYMENT_CREATE_RATE = os.environ.get("API_CREATE_RATE", "60/min").strip()
if not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", PAYMENT_CREATE_RATE):
    raise ImproperlyConfigured(f"API_CREATE_RATE must look like 60/min (or /s, /hour, /day), not {PAYMENT_CREATE_RATE!r}.")
# How many reverse proxies in front of Daphne append to X-Forwarded-For (deploy/nginx: 1).
# The client is the address that many entries from the right; with 0 the header is ignored.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

REST_FRAMEWORK = {
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [],
    "COERCE_DECIMAL_TO_STRING": True,
}
# Content-Security-Policy (django-csp): everything the pages load is served by the app
# itself, no inline script or style without the request's nonce (the Swagger UI's one
# <style>), no eval (htmx's allowEval is off in base.html), sockets to the same origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [SELF],  # the checkout page frames its simulated phone
    }
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LiveSettle API",
    "DESCRIPTION": "Mobile-money payment settlement simulator (MTN MoMo vocabulary).",
    "VERSION": "1.0.0",
    # 3.1: JSON Schema proper, so booking_details' rule (propertyNames, null) is in the schema.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The MoMo Collections paths are plain Django views; momo/openapi.py describes them.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "momo.openapi.add_momo_paths",
    ],
    "TAGS": [
        {"name": "api", "description": "LiveSettle's own REST API."},
        {"name": "MoMo Collections", "description": "The MTN MoMo Collections API at the server root (docs/momo.md)."},
    ],
}

# Rate limits count in this cache: with REDIS_URL, one count shared by
# every process (a limit per process is no limit behind two Daphnes).
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, one connection pool per process (dashboard/cache.py).
            "BACKEND": "dashboard.cache.SharedRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "livesettle"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Domain configuration.
PAYMENT_CURRENCIES = [
    c.strip()
    for c in os.environ.get("PAYMENT_CURRENCIES", "EUR,UGX,GHS,XAF,XOF,ZMW,RWF,USD").split(",")
    if c.strip()
]
PAYMENT_EXPIRY_SECONDS = int(os.environ.get("PAYMENT_EXPIRY_SECONDS", "300"))


def _money(name: str, default: str) -> Decimal:
    """A non-negative amount with at most 2 decimals, or one clear line at start-up."""
    text = os.environ.get(name, "").strip() or default
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("-1")
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")) or value >= 10**15:
        raise ImproperlyConfigured(f"{name} must be an amount such as {default} (0 or more, at most 2 decimals).")
    return value


# The ledger (docs/ledger.md): the float each API user's (and the house's) disbursement and
# remittance accounts open with per currency, and the balance a party's wallet opens with.
MOMO_DEFAULT_FLOAT = _money("MOMO_DEFAULT_FLOAT", "100000")
WALLET_START_BALANCE = _money("WALLET_START_BALANCE", "10000")
DEMO_OPERATOR_USERNAME = os.environ.get("DEMO_OPERATOR_USERNAME", "").strip() or "operator"
DEMO_OPERATOR_PASSWORD = os.environ.get("DEMO_OPERATOR_PASSWORD", "")
# The MoMo Collections API (momo/): subscription keys (comma-separated; unset: one
# generated once and kept in .momo-subscription-key), token lifetime, rate limits, and the
# target environments besides `sandbox` (EUR) with the currency each one takes.
MOMO_SUBSCRIPTION_KEYS = [k.strip() for k in os.environ.get("MOMO_SUBSCRIPTION_KEY", "").split(",") if k.strip()]
# Each product's own keys (MOMO_COLLECTION_SUBSCRIPTION_KEY, ...): good on that product's
# paths only, as at MTN; unset: one generated once and kept in .momo-<product>-subscription-key.
MOMO_PRODUCTS = ("collection", "disbursement", "remittance")
MOMO_PRODUCT_SUBSCRIPTION_KEYS = {
    product: [k.strip() for k in os.environ.get(f"MOMO_{product.upper()}_SUBSCRIPTION_KEY", "").split(",") if k.strip()]
    for product in MOMO_PRODUCTS
}
MOMO_TOKEN_EXPIRES_IN = int(os.environ.get("MOMO_TOKEN_EXPIRES_IN", "3600"))
# Per API user and per second; 0 turns a limit off.
MOMO_STATUS_RATE = int(os.environ.get("MOMO_STATUS_RATE", "10"))
MOMO_REQUEST_RATE = int(os.environ.get("MOMO_REQUEST_RATE", "50"))


def _momo_environments(value: str) -> dict[str, str]:
    environments = {"sandbox": "EUR"}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, currency = item.partition(":")
        if not name.strip() or len(currency.strip()) != 3:
            raise ImproperlyConfigured(f"MOMO_ENVIRONMENTS: {item!r} is not environment:CURRENCY (e.g. mtnuganda:UGX).")
        environments[name.strip()] = currency.strip().upper()
    return environments


MOMO_ENVIRONMENTS = _momo_environments(
    os.environ.get("MOMO_ENVIRONMENTS", "mtnuganda:UGX,mtnghana:GHS,mtnzambia:ZMW,mtncameroon:XAF,mtnivorycoast:XOF,mtnbenin:XOF,mtncongo:XAF")
)
# The integration inspector (docs/inspector.md): every call on a MoMo path is recorded.
INSPECTOR_ENABLED = env_bool("INSPECTOR_ENABLED", True)
INSPECTOR_FLUSH_SECONDS = float(os.environ.get("INSPECTOR_FLUSH_SECONDS", "0.5"))  # 0: write each call at once
INSPECTOR_MAX_PER_USER = int(os.environ.get("INSPECTOR_MAX_PER_USER", "2000"))
INSPECTOR_MAX_TOTAL = int(os.environ.get("INSPECTOR_MAX_TOTAL", "50000"))
INSPECTOR_BODY_LIMIT = 4096  # characters of each body kept
INSPECTOR_BUFFER_MAX = 20000  # calls waiting for a flush, per process; beyond: dropped, logged
# A worker whose heartbeat is older than this is reported "stale".
WORKER_STALE_SECONDS = int(os.environ.get("WORKER_STALE_SECONDS", "30"))

# Who settles payments: `simulator` (default: the settlement worker decides) or `momo`
# (an upstream MoMo Collections API decides; see docs/provider.md). The MOMO_UPSTREAM_*
# values are the client side, apart from MOMO_SUBSCRIPTION_KEY (LiveSettle's own MoMo API).
PAYMENT_PROVIDER = os.environ.get("PAYMENT_PROVIDER", "simulator").strip().lower() or "simulator"
if PAYMENT_PROVIDER not in {"simulator", "momo"}:
    raise ImproperlyConfigured(f"PAYMENT_PROVIDER must be 'simulator' or 'momo', not {PAYMENT_PROVIDER!r}.")
MOMO_UPSTREAM_URL = os.environ.get("MOMO_UPSTREAM_URL", "").strip().rstrip("/")
MOMO_UPSTREAM_SUBSCRIPTION_KEY = os.environ.get("MOMO_UPSTREAM_SUBSCRIPTION_KEY", "").strip()
MOMO_UPSTREAM_API_USER = os.environ.get("MOMO_UPSTREAM_API_USER", "").strip()
MOMO_UPSTREAM_API_KEY = os.environ.get("MOMO_UPSTREAM_API_KEY", "").strip()
MOMO_UPSTREAM_ENVIRONMENT = os.environ.get("MOMO_UPSTREAM_ENVIRONMENT", "sandbox").strip() or "sandbox"
MOMO_CALLBACK_BASE = os.environ.get("MOMO_CALLBACK_BASE", "").strip().rstrip("/")
# Seconds one upstream call may take before it is retried (same X-Reference-Id).
MOMO_UPSTREAM_TIMEOUT = os.environ.get("MOMO_UPSTREAM_TIMEOUT", "5").strip() or "5"
# Tests and rehearsals only: lets an operator force an upstream payment (the upstream decides).
MOMO_ALLOW_FORCE = env_bool("MOMO_ALLOW_FORCE", False)
if PAYMENT_PROVIDER == "momo":
    from payments.provider_config import upstream_config_errors

    _problems = upstream_config_errors(
        url=MOMO_UPSTREAM_URL, subscription_key=MOMO_UPSTREAM_SUBSCRIPTION_KEY, api_user=MOMO_UPSTREAM_API_USER,
        api_key=MOMO_UPSTREAM_API_KEY, environment=MOMO_UPSTREAM_ENVIRONMENT, callback_base=MOMO_CALLBACK_BASE,
        timeout=MOMO_UPSTREAM_TIMEOUT,
    )
    if _problems:
        raise ImproperlyConfigured("PAYMENT_PROVIDER=momo: " + "; ".join(_problems) + " (see docs/provider.md).")
MOMO_UPSTREAM_TIMEOUT = float(MOMO_UPSTREAM_TIMEOUT) if PAYMENT_PROVIDER == "momo" else 5.0

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    # Subdomains and the browsers' preload list only when asked: both outlive this server
    # (a preload entry takes months to undo) and reach hosts it knows nothing about.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    # `check --deploy` asks for both; leaving them off is the choice above, not an oversight.
    SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "payments": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
        "consumers": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
        # The pool warns on every failed reconnect; an outage is already reported once, in
        # words (the 503, /healthz, the worker's log, a command's one-line error).
        "psycopg.pool": {"level": "ERROR"},
        # Django logs every 4xx answer as a warning line ("Not Found: /x"): one phone could
        # grow the log a line per request, and a MoMo client's refusals are in the inspector
        # already. Server errors (5xx) are still logged, with their traceback.
        "django.request": {"level": "ERROR"},
    },
}
MERCHANT_NAME = os.environ.get("MERCHANT_NAME", "Virunga Treks")[:60]
WEBSOCKET_TIMEOUT = int(os.environ.get("WEBSOCKET_TIMEOUT", "86400"))
# Callback sends in flight per receiver (scheme://host:port) in each worker, of its 50: one
# receiver that hangs cannot hold every slot (docs/security.md).
CALLBACK_CONCURRENCY_PER_HOST = int(os.environ.get("CALLBACK_CONCURRENCY_PER_HOST", "10"))
# The embedded server's own limits (payments/serving.py; docs/security.md): the demo has no
# proxy in front. Connection caps are off behind a proxy (TRUSTED_PROXY_COUNT > 0).
SERVER_MAX_BODY_BYTES = int(os.environ.get("SERVER_MAX_BODY_BYTES", str(1024 * 1024)))
SERVER_HEADER_TIMEOUT = float(os.environ.get("SERVER_HEADER_TIMEOUT", "10"))
SERVER_MAX_CONNECTIONS_PER_ADDRESS = int(os.environ.get("SERVER_MAX_CONNECTIONS_PER_ADDRESS", "128"))
SERVER_MAX_WEBSOCKETS_PER_ADDRESS = int(os.environ.get("SERVER_MAX_WEBSOCKETS_PER_ADDRESS", "64"))
# Rows of one repeatable kind (wrong PIN, delivery notification, upstream callback or error)
# kept per payment; beyond it the last row counts them (payments/services/logbook.py).
PAYMENT_LOG_ROWS_PER_KIND = int(os.environ.get("PAYMENT_LOG_ROWS_PER_KIND", "20"))
