"""Test settings: DATABASE_URL / REDIS_URL point at PostgreSQL and Redis in CI."""

import os

from django.core.management.utils import get_random_secret_key

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or get_random_secret_key()
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In memory unless a test starts a worker against a real SMTP server (DJANGO_EMAIL_BACKEND).
EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend"
)

# The tests state local times, days and months in the default zone; a zone set for the
# machine's own SecureFlow (SECUREFLOW_TIME_ZONE) must not change what they expect.
TIME_ZONE = CELERY_TIMEZONE = "Asia/Dubai"

# The tests' webhook receivers listen on loopback.
SECUREFLOW_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]

# One id per test run, inherited by the worker processes the tests start: test runs side
# by side on one machine get their own test database and their own broker keys.
TEST_RUN_ID = os.environ.setdefault("SECUREFLOW_TEST_RUN_ID", str(os.getpid()))

# A file (not in-memory) SQLite test database, so that worker processes started by the
# integration tests can share it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/ yet
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(VAR_DIR / f"test-secureflow-{TEST_RUN_ID}.sqlite3")
    }
else:
    # No persistent connections: the live server's request threads must not keep sessions
    # open on the test database after they finish.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": f"test_{DATABASES['default']['NAME']}_{TEST_RUN_ID}"  # noqa: F405
    }
if CELERY_BROKER_URL.startswith("redis"):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {  # noqa: F405
        **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
        "global_keyprefix": f"sf-test-{TEST_RUN_ID}:",
    }

# Cache keys (API rate-limit counters among them) per test run, like the broker keys; and
# rates high enough that no test is limited by the requests of earlier tests (the tests of
# the limiter set their own rates).
CACHES["default"]["KEY_PREFIX"] = f"sf-test-{TEST_RUN_ID}"  # noqa: F405
CACHES["sign_in"]["KEY_PREFIX"] = f"sf-test-{TEST_RUN_ID}"  # noqa: F405
REST_FRAMEWORK = {  # noqa: F405
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"score": "1000000/min", "api": "1000000/min"},
}
