"""Settings shared by every environment. Everything that differs comes from the environment.

Every variable read here is documented in README.md ("Configuration").
"""

from pathlib import Path

import environ

from .environment import Env

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = Env()  # values taken as they are: no `$NAME` references (see environment.py)
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("SECUREFLOW_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "secureflow.core",
    "transactions",
    "detection",
    "cases",
    "alerts",
    "secureflow.workspace",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "secureflow.core.request_size.RequestSizeLimitMiddleware",
    "secureflow.core.security_headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "secureflow.core.session_idle.SessionRenewalMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

# Covering indexes (Index.include) serve PostgreSQL; SQLite builds the same index without
# the extra columns, which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

ROOT_URLCONF = "secureflow.urls"
WSGI_APPLICATION = "secureflow.wsgi.application"

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

# Database: SQLite (WAL) under var/ unless DATABASE_URL is set (postgres://user@host:port/name).
DEFAULT_SQLITE_PATH = VAR_DIR / "secureflow.sqlite3"
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DEFAULT_SQLITE_PATH}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            ),
        }
    )
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # the same backend with a health check that needs no round trip (see its module)
        DATABASES["default"]["ENGINE"] = "secureflow.core.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# "" sends none (why these defaults: secureflow/core/security_headers.py).
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'{styles}; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# the one inline <style> of Django admin (change_list.html, a list without actions)
_ADMIN_CHANGE_LIST_STYLE = "'sha256-blvLUW3UscWqsXGByNOqdBboM+ShWAuugp2mC/wbafU='"
SECUREFLOW_CONTENT_SECURITY_POLICY = env.str(
    "SECUREFLOW_CONTENT_SECURITY_POLICY",
    default=_POLICY.format(styles=f" {_ADMIN_CHANGE_LIST_STYLE}"),
)
# The API's HTML pages (docs, browsable API) are drawn by Swagger UI and DRF, which set
# inline styles: they may, and still run no inline script.
SECUREFLOW_CONTENT_SECURITY_POLICY_API_PAGES = env.str(
    "SECUREFLOW_CONTENT_SECURITY_POLICY_API_PAGES",
    default=_POLICY.format(styles=" 'unsafe-inline'"),
)
# Proxies in front that append to X-Forwarded-For; 0: none, the connection's address is
# the client's (secureflow/core/client_address.py: sign-in and API rate limits).
SECUREFLOW_TRUSTED_PROXIES = env.int("SECUREFLOW_TRUSTED_PROXIES", default=0)
# Or the proxies' networks, e.g. "10.0.0.0/8,fd00::/8" (checked at start-up): the header is
# read only on connections from them, and the client is the nearest address outside them.
SECUREFLOW_TRUSTED_PROXY_NETWORKS = env.list("SECUREFLOW_TRUSTED_PROXY_NETWORKS", default=[])
# Failed sign-ins lock a username at an address, an address, or a username everywhere out
# (secureflow/core/sign_in_limits.py).
SECUREFLOW_SIGN_IN_MAX_FAILURES = env.int("SECUREFLOW_SIGN_IN_MAX_FAILURES", default=5)
SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_USERNAME = env.int(
    "SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_USERNAME", default=50
)
SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS = env.int(
    "SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS", default=20
)
SECUREFLOW_SIGN_IN_LOCKOUT_MINUTES = env.float("SECUREFLOW_SIGN_IN_LOCKOUT_MINUTES", default=15)
# A signed-in session ends after this long without a request (secureflow/core/session_idle.py).
SESSION_COOKIE_AGE = round(env.float("SECUREFLOW_SESSION_IDLE_MINUTES", default=30) * 60)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("SECUREFLOW_TIME_ZONE", default="Asia/Dubai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "secureflow" / "static"]
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# Redis: cache and (when CELERY_BROKER_URL is not set) the Celery broker.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Failed sign-in counts (secureflow/core/sign_in_limits.py) must be seen by every web
# process: Redis when there is one, else files under var/ (sign-ins are few).
CACHES["sign_in"] = (
    {**CACHES["default"]}
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / "sign-in"),
    }
)

# Celery. With nothing set, a filesystem broker under var/broker: a real worker process
# consumes it, no server needed. With CELERY_BROKER_URL or REDIS_URL: that broker.
CELERY_BROKER_DIR = VAR_DIR / "broker"
# (the filesystem transport ignores the host; naming one spares a warning at every send)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "secureflow.core.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "secureflow.core.pagination.ApiPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "secureflow.core.api_errors.api_exception_handler",
    # DRF's negotiation, its choice remembered per Accept header (secureflow/core/negotiation.py)
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "secureflow.core.negotiation.CachedContentNegotiation",
    # DRF's parsers, JSON refusing a body nested too deeply with a 400 (not a 500)
    "DEFAULT_PARSER_CLASSES": [
        "secureflow.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Requests per client (API token, else user, else address); see secureflow/core/throttles.py.
    "DEFAULT_THROTTLE_CLASSES": ["secureflow.core.throttles.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "score": env.str("SECUREFLOW_API_RATE_SCORE", default="6000/min"),
        "api": env.str("SECUREFLOW_API_RATE", default="1200/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SecureFlow API",
    "DESCRIPTION": "Real-time fraud scoring, batches, cases and feedback.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # the schema and docs for signed-in users and API clients with a role, as the API
    "SERVE_PERMISSIONS": ["secureflow.core.permissions.IsInvestigator"],
    # Several resources have a "status"; each keeps its own, named enum in the schema.
    "ENUM_NAME_OVERRIDES": {
        "TransactionStatusEnum": "transactions.choices.TransactionStatus",
        "BatchStatusEnum": "transactions.choices.BatchStatus",
        "CaseStatusEnum": "cases.choices.CaseStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "secureflow.core.api_errors.add_error_responses",
    ],
}

# Where trained model artifacts live.
SECUREFLOW_MODEL_DIR = Path(env.str("SECUREFLOW_MODEL_DIR", default=str(VAR_DIR / "models")))

# Batches (CSV / JSON imports): largest upload, rows per chunk, where batch files live
# (shared storage when workers run on other machines), SHAP-explained rows per chunk.
SECUREFLOW_MAX_UPLOAD_MB = env.int("SECUREFLOW_MAX_UPLOAD_MB", default=256)
SECUREFLOW_BATCH_CHUNK_ROWS = env.int("SECUREFLOW_BATCH_CHUNK_ROWS", default=20_000)
SECUREFLOW_LABEL_PART_ROWS = env.int("SECUREFLOW_LABEL_PART_ROWS", default=5_000)
SECUREFLOW_BATCH_DIR = Path(env.str("SECUREFLOW_BATCH_DIR", default=str(MEDIA_ROOT / "batches")))
# Days the files of a finished batch or label import are kept (0: for ever); see
# secureflow/core/retention.py.
SECUREFLOW_FILE_RETENTION_DAYS = env.int("SECUREFLOW_FILE_RETENTION_DAYS", default=90)
SECUREFLOW_BATCH_SHAP_ROWS = env.int("SECUREFLOW_BATCH_SHAP_ROWS", default=500)

# Cases: hours an investigator has to decide a case, by the outcome that opened it.
SECUREFLOW_CASE_SLA_HOURS = {
    "review": env.float("SECUREFLOW_CASE_SLA_REVIEW_HOURS", default=24.0),
    "block": env.float("SECUREFLOW_CASE_SLA_BLOCK_HOURS", default=4.0),
}

# E-mail: SMTP when EMAIL_HOST (or DJANGO_EMAIL_BACKEND) is set, the console otherwise.
EMAIL_HOST = env.str("EMAIL_HOST", default="") or "localhost"
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SecureFlow <alerts@localhost>")
EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if env.str("EMAIL_HOST", default="")
    else "django.core.mail.backends.console.EmailBackend",
)

# Alerts (README "Alerts"): channel backends, SMS gateway / Twilio, webhook secret,
# retries, rate limit, and the address links in alerts point to.
SECUREFLOW_BASE_URL = env.str("SECUREFLOW_BASE_URL", default="http://127.0.0.1:8000")
SECUREFLOW_ALERT_EMAIL_BACKEND = env.str("SECUREFLOW_ALERT_EMAIL_BACKEND", default="")
SECUREFLOW_ALERT_SMS_BACKEND = env.str("SECUREFLOW_ALERT_SMS_BACKEND", default="")
SECUREFLOW_ALERT_WEBHOOK_BACKEND = env.str("SECUREFLOW_ALERT_WEBHOOK_BACKEND", default="")
SECUREFLOW_SMS_GATEWAY_URL = env.str("SECUREFLOW_SMS_GATEWAY_URL", default="")
SECUREFLOW_SMS_GATEWAY_TOKEN = env.str("SECUREFLOW_SMS_GATEWAY_TOKEN", default="")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")
SECUREFLOW_WEBHOOK_SECRET = env.str("SECUREFLOW_WEBHOOK_SECRET", default="")
# Private networks webhook alerts may reach (e.g. the bank's SIEM); public addresses always.
SECUREFLOW_WEBHOOK_ALLOWED_NETWORKS = env.list("SECUREFLOW_WEBHOOK_ALLOWED_NETWORKS", default=[])
# where alert e-mail and SMS may go (alerts/destinations.py); empty: anywhere
SECUREFLOW_ALERT_EMAIL_DOMAINS = env.list("SECUREFLOW_ALERT_EMAIL_DOMAINS", default=[])
SECUREFLOW_ALERT_SMS_PREFIXES = env.list("SECUREFLOW_ALERT_SMS_PREFIXES", default=[])
SECUREFLOW_ALERT_HTTP_TIMEOUT = env.float("SECUREFLOW_ALERT_HTTP_TIMEOUT", default=5.0)
SECUREFLOW_ALERT_MAX_ATTEMPTS = env.int("SECUREFLOW_ALERT_MAX_ATTEMPTS", default=5)
SECUREFLOW_ALERT_RETRY_BASE_SECONDS = env.float("SECUREFLOW_ALERT_RETRY_BASE_SECONDS", default=30.0)
SECUREFLOW_ALERT_RETRY_MAX_SECONDS = env.float("SECUREFLOW_ALERT_RETRY_MAX_SECONDS", default=900.0)
SECUREFLOW_ALERT_RATE_LIMIT = env.int("SECUREFLOW_ALERT_RATE_LIMIT", default=10)
SECUREFLOW_ALERT_RATE_WINDOW_SECONDS = env.float(
    "SECUREFLOW_ALERT_RATE_WINDOW_SECONDS", default=60.0
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("SECUREFLOW_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "secureflow.core.tasks.worker_heartbeat", "schedule": 30.0},
    "alerts-requeue-due": {"task": "alerts.tasks.requeue_due_deliveries", "schedule": 60.0},
    "dashboard-rollup": {
        "task": "secureflow.workspace.tasks.dashboard_rollup_maintain",
        "schedule": 30.0,
    },
    "files-purge-old": {"task": "secureflow.core.tasks.purge_old_files", "schedule": 86400.0},
    "batches-resume-stalled": {
        "task": "transactions.tasks.resume_stalled_batches",
        "schedule": 300.0,
    },
    "counterparty-days-compact": {
        "task": "detection.tasks.compact_counterparty_days",
        "schedule": 60.0,
    },
    "account-totals-compact": {
        "task": "detection.tasks.compact_account_totals",
        "schedule": 60.0,
    },
}

# The real-time path's PostgreSQL queries run as prepared statements (secureflow/core/prepared.py);
# turn off behind a pooler that shares sessions per transaction (PgBouncer transaction mode).
SECUREFLOW_DB_PREPARED_STATEMENTS = env.bool("SECUREFLOW_DB_PREPARED_STATEMENTS", default=True)
# How long a web process trusts an API token it has checked (secureflow/core/authentication.py).
SECUREFLOW_TOKEN_CACHE_SECONDS = env.float("SECUREFLOW_TOKEN_CACHE_SECONDS", default=10.0)
# How long a web process reuses the alert subscriptions and rules it has read (alerts/audience.py).
SECUREFLOW_ALERT_AUDIENCE_CACHE_SECONDS = env.float(
    "SECUREFLOW_ALERT_AUDIENCE_CACHE_SECONDS", default=5.0
)

# Retraining and drift (README: "Retraining and drift").
SECUREFLOW_RETRAIN_SCHEDULE_HOURS = env.float("SECUREFLOW_RETRAIN_SCHEDULE_HOURS", default=24.0)
SECUREFLOW_RETRAIN_HOLDOUT_DAYS = env.float("SECUREFLOW_RETRAIN_HOLDOUT_DAYS", default=14.0)
SECUREFLOW_RETRAIN_AE_EPOCHS = env.int("SECUREFLOW_RETRAIN_AE_EPOCHS", default=30)
SECUREFLOW_PROMOTION_MIN_GAIN = env.float("SECUREFLOW_PROMOTION_MIN_GAIN", default=0.0)
SECUREFLOW_PROMOTION_MAX_FPR_INCREASE = env.float(
    "SECUREFLOW_PROMOTION_MAX_FPR_INCREASE", default=0.0
)
SECUREFLOW_PROMOTION_MIN_AP = env.float("SECUREFLOW_PROMOTION_MIN_AP", default=0.1)
SECUREFLOW_SHADOW_CHALLENGERS = env.bool("SECUREFLOW_SHADOW_CHALLENGERS", default=False)
if SECUREFLOW_RETRAIN_SCHEDULE_HOURS > 0:
    CELERY_BEAT_SCHEDULE["retrain-models"] = {
        "task": "detection.tasks.retrain_models",
        "schedule": SECUREFLOW_RETRAIN_SCHEDULE_HOURS * 3600.0,
        "kwargs": {"trigger": "schedule"},
    }
