"""CareOps settings: one module, driven by the environment.

The defaults give the embedded quickstart (SQLite, a filesystem Celery broker, console email);
production sets DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and friends. Every variable
read here is listed, with its default, in .env.example and the README.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

from careops.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    # Variables already in the process environment win over the file.
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# A fixed key is acceptable only while DEBUG is on; production must supply its own.
_DEV_SECRET_KEY = "careops-insecure-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
if not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise environ.ImproperlyConfigured("SECRET_KEY must be a random string of 50+ characters.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "csp",
    "django_structlog",
    "axes",
    "anymail",
    "careops",
    "workspaces",
    "contacts",
    "messaging",
    "bookings",
    "forms",
    "inventory",
    "automation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Near the top: a lost database connection is a 503 whichever middleware meets it.
    "careops.errors.DatabaseUnavailableMiddleware",
    # Each request starts in the all-workspaces scope and narrows to its workspace (careops.rls).
    "careops.rls.WorkspaceScopeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    # A NUL in the path is a 400 here, not a 500 at the database (careops.errors).
    "careops.errors.RejectNulMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so that it sees the outcome of every authentication attempt of the request.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "careops.urls"
WSGI_APPLICATION = "careops.wsgi.application"
ASGI_APPLICATION = "careops.asgi.application"

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
                "careops.tenancy.workspace_context_processor",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL takes sqlite:///path or postgres://user:pass@host:port/name (Supabase included).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
}
_db = DATABASES["default"]
_db["ATOMIC_REQUESTS"] = False
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE takes the write lock at BEGIN, so a check-then-write inside a transaction cannot
    # be interleaved by another process; WAL lets the worker and beat read while web writes.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _db["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
    _db["ENGINE"] = "django.db.backends.postgresql"
    _options = _db.setdefault("OPTIONS", {})
    if env.bool("DATABASE_SSL_REQUIRE", default=False):
        _options.setdefault("sslmode", "require")
    _pooled = env.bool("DATABASE_POOLED", default=False)
    if _pooled:
        # Behind a transaction pooler (Supabase's port 6543, PgBouncer) a session may hop
        # between server connections: no server-side cursors, no prepared statements.
        _db["DISABLE_SERVER_SIDE_CURSORS"] = True
        _options["prepare_threshold"] = None
    elif env.bool("DATABASE_PREPARED", default=True):
        # A direct connection keeps what it prepares: parameters are bound by the server and a
        # statement run a fifth time on a connection is prepared (psycopg's threshold), so it is
        # no longer parsed and planned on every request. Planning was half the database's time
        # for a page of bookings (0.95 ms of CPU a request against 0.35 ms prepared).
        _options["server_side_binding"] = True
        _options["prepare_threshold"] = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
    if env.bool("DATABASE_POOL", default=True):
        _options["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
        _db["CONN_MAX_AGE"] = 0  # the pool owns connection lifetime
    else:
        _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        _db["CONN_HEALTH_CHECKS"] = True
    _options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
    # No JIT compilation: it pays off for long analytic queries, not for a web request's. At
    # 1,000,000 bookings PostgreSQL chose it for the dashboard's figures and spent 222 ms of a
    # 452 ms query compiling (bench/RESULTS-1M.md). Sent with the connection, no round trip; a
    # transaction pooler may refuse startup options, so there the app role carries it instead
    # (manage.py db_app_role sets jit = off on the role).
    if not env.bool("DATABASE_JIT", default=False) and not _pooled:
        _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()

# Row-level security (careops.rls): on when the app connects as the role `manage.py db_app_role`
# makes, which cannot bypass the policies; each transaction is then given the request's workspace.
DATABASE_RLS = _db["ENGINE"].endswith("postgresql") and env.bool("DATABASE_RLS", default=False)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttles, lockouts) ------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "careops",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # The quickstart serves from one process, where a local-memory cache is shared enough.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The dashboard's figures of a big workspace (counting took at least AFTER_MS) are kept this
# long (careops.dashboard.stats); 0 counts them on every request.
DASHBOARD_FIGURES_CACHE_SECONDS = env.int("DASHBOARD_FIGURES_CACHE_SECONDS", default=60)
DASHBOARD_FIGURES_CACHE_AFTER_MS = env.int("DASHBOARD_FIGURES_CACHE_AFTER_MS", default=100)

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "workspaces.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3
INVITATION_MAX_AGE = timedelta(days=env.int("INVITATION_MAX_AGE_DAYS", default=7))

# Brute-force lockout (django-axes): keyed on the account and the client IP together, so that
# nobody can lock a user out from elsewhere by guessing at their address.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "careops.errors.axes_username"
AXES_LOCKOUT_CALLABLE = "careops.errors.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "careops.auth.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["careops.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["careops.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "careops.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "careops.schema.AutoSchema",
    "EXCEPTION_HANDLER": "careops.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "careops.throttling.AnonRateThrottle",
        "careops.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "auth": env.str("THROTTLE_AUTH", default="20/min"),
        "contact_form": env.str("THROTTLE_CONTACT_FORM", default="10/hour"),
        "booking": env.str("THROTTLE_BOOKING", default="20/hour"),
        # A client filling in a form may be told of a mistake a few times before it is right.
        "form_submission": env.str("THROTTLE_FORM_SUBMISSION", default="30/hour"),
    },
    "NUM_PROXIES": env.int("PROXY_COUNT", default=0) or None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,  # the login view sends user_logged_in, which sets it
    # Tokens carry a hash of the password: changing it revokes every token issued before.
    "CHECK_REVOKE_TOKEN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CareOps API",
    "DESCRIPTION": (
        "The CareOps REST API. Authenticate with `POST /api/v1/auth/login` and send the "
        "access token as `Authorization: Bearer <token>`. Workspace-scoped endpoints act on "
        "the workspace named by the `X-Workspace-ID` header; it may be left out when the "
        "caller belongs to exactly one workspace. Another workspace's objects answer 404. "
        "Every error has the same JSON shape: `code`, `message` and, for invalid input, "
        "`fields` (field name to a list of `{code, message}`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc assets served from our static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "workspaces.models.Membership.Role",
        "AreaAccessLevelEnum": "workspaces.models.Access",
        "WorkspaceStatusEnum": "workspaces.models.Workspace.Status",
        "ConversationStatusEnum": "messaging.models.Conversation.Status",
        "MessageStatusEnum": "messaging.models.Message.Status",
        "ChannelEnum": "messaging.models.Channel",
        "ContactSourceEnum": "contacts.models.Contact.Source",
        "BookingStatusEnum": "bookings.models.Booking.Status",
        "BookingSourceEnum": "bookings.models.Booking.Source",
        "FormSubmissionStatusEnum": "forms.models.FormSubmission.Status",
        "FormSubmissionSourceEnum": "forms.models.FormSubmission.Source",
        "InventoryUsageKindEnum": "inventory.models.InventoryUsage.Kind",
    },
}

# --- Internationalization -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves collected, hashed files (collectstatic runs in the Docker build); without a
# manifest (development, tests) whitenoise serves straight from the app folders.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
MEDIA_URL = "media/"

# --- Forms ----------------------------------------------------------------------------------
# A form's public link stops working this many days after it was sent (or last re-sent).
FORM_LINK_MAX_AGE_DAYS = env.int("FORM_LINK_MAX_AGE_DAYS", default=30)
# Files a client may attach to a form: per file, and of these types only (checked by content).
FORM_UPLOAD_MAX_BYTES = env.int("FORM_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
FORM_UPLOAD_CONTENT_TYPES = env.list(
    "FORM_UPLOAD_CONTENT_TYPES",
    default=["application/pdf", "image/jpeg", "image/png", "image/heic", "image/webp"],
)

# --- Email ----------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# Seconds an SMTP server may take to answer: a hung server must not hold a worker (or the row
# lock an alert email is sent under) until the task's time limit.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=15)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CareOps <no-reply@careops.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Messaging: providers, webhooks, secrets at rest -----------------------------------------
# Fernet keys (newest first) for provider credentials; unset: one key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# Phone numbers written without a country code are read in this region (ISO 3166 code).
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="GB")
# A workspace with no integration for a channel sends through these: EMAIL_URL's backend for
# email, and for SMS "console" (logs the text) or "twilio" (the TWILIO_* variables below).
SMS_DEFAULT_PROVIDER = env.str("SMS_DEFAULT_PROVIDER", default="console")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
# Twilio's API host for the platform account (a regional edge, or a local stand-in in tests).
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
# Console providers may be chosen as integrations only where nothing real should be sent.
MESSAGING_ALLOW_CONSOLE = env.bool("MESSAGING_ALLOW_CONSOLE", default=DEBUG)
# Outbound webhooks may target plain http and hosts inside our network (loopback, private
# ranges) only where nothing real is called: development and tests (a local receiver).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.bool(
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=MESSAGING_ALLOW_CONSOLE
)
# Inbound email arrives at <workspace-slug>@INBOUND_EMAIL_DOMAIN (the ESP's inbound route).
INBOUND_EMAIL_DOMAIN = env.str("INBOUND_EMAIL_DOMAIN", default="inbound.careops.local")
# Failed sends are retried with exponential backoff up to this many attempts in all.
MESSAGE_MAX_ATTEMPTS = env.int("MESSAGE_MAX_ATTEMPTS", default=6)
# anymail's webhooks (inbound email, delivery events) require HTTP basic auth "user:password";
# unset, they refuse every request rather than accept unsigned ones.
ANYMAIL = {
    "WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default=""),
    "MAILGUN_WEBHOOK_SIGNING_KEY": env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default=""),
}
# --- Automation -----------------------------------------------------------------------------
# Dispatched outbox events, finished reminders and automation runs older than this many days are
# deleted by the daily purge (automation.retention); work still pending never is.
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=90)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = env.path("CELERY_BROKER_DIR", default=BASE_DIR / "var" / "broker")
    Path(_broker_dir).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(Path(_broker_dir) / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Above the longest task's hard limit, so a running task is not handed to a second
        # worker while the first still works on it.
        "visibility_timeout": 3600,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged when it finishes and given back if its worker dies: work is redelivered
# rather than lost, and every task is written to be idempotent for that reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
# Publishing must not hang a web request while the broker is down: a few quick tries, then the
# caller gets the error and the work waits in the database for a sweep.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=15)

# --- Health ---------------------------------------------------------------------------------
# Which readiness checks turn /health/ready into a 503 when they fail; the others are reported.
HEALTH_REQUIRED_CHECKS = env.list("HEALTH_REQUIRED_CHECKS", default=["database", "broker"])
HEALTH_WORKER_MAX_AGE = env.int("HEALTH_WORKER_MAX_AGE", default=WORKER_HEARTBEAT_SECONDS * 4)

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Scripts and styles from our own static files only: no inline <script>, no on*= handlers, no
# style attributes, no eval (htmx is configured without it in base.html). A page that needs an
# inline <style> gives it the request's nonce (the calendar). Views that differ say so with
# csp_update/csp_replace: the embeddable contact form, the API docs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe health over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^health(/ready)?$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging and errors ---------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# Keep the X-Request-ID a load balancer or caller sent, so their logs and ours line up.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = env.bool("TRUST_UPSTREAM_REQUEST_ID", default=True)

SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
    )
