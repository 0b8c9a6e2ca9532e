"""Settings for Marrow Ready.

Everything comes from environment variables (12-factor). With none set, the
embedded default runs: SQLite in WAL mode, a filesystem Celery broker, email
printed to the console. Production (DEBUG off) refuses to start without its
secrets.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-dev-only-key-marrow-ready"  # noqa: S105 - local development only

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public address used in emails and text messages (invitation links).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "portal",
    "procedures",
    "procedures.feed",
    "reminders",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_celery_beat",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]

MIDDLEWARE = [
    "portal.metrics.RequestTiming",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.SessionTimeoutMiddleware",
    "portal.middleware.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.RequestLogMiddleware",
    "portal.middleware.AuditMiddleware",
    "portal.middleware.NoStoreForSignedInMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "procedures.context_processors.phones_to_call",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
# Persistent connections: a new connection per request costs ~10x throughput.
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
_db["CONN_HEALTH_CHECKS"] = True
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE avoids
    # "database is locked" upgrades from read to write transactions.
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # SQLite connections are cheap and cannot be shared across threads anyway.
    _db["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts ---------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # Counts failed logins and refuses a locked-out account and address before checking the password.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
INVITATION_VALID_HOURS = env.int("INVITATION_VALID_HOURS", default=72)
# "Forgot your password?": an emailed link works for an hour; a texted code for 15 minutes and 5 tries.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_SECONDS", default=3600)
PASSWORD_RESET_CODE_MINUTES = env.int("PASSWORD_RESET_CODE_MINUTES", default=15)
PASSWORD_RESET_CODE_TRIES = env.int("PASSWORD_RESET_CODE_TRIES", default=5)
# Nurses and admins must pass a one-time code (TOTP app or a backup code) before any staff page.
TWO_FACTOR_FOR_STAFF = env.bool("TWO_FACTOR_FOR_STAFF", default=True)
OTP_TOTP_ISSUER = "Marrow Ready"

# Login lockout (django-axes): 5 failures for one account from one address lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
# Counted in lower case and cut to axes' column, so a 256-character name is a failed login, not an error.
AXES_USERNAME_CALLABLE = "portal.auth.axes_username"
# Axes would log each attempt with the username; our request log already records the outcome.
AXES_VERBOSE = False

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
# Stored times are UTC; every time shown is in the clinic's own time zone.
TIME_ZONE = "UTC"
FORMAT_MODULE_PATH = ["portal.formats"]
PHONE_REGION = env.str("PHONE_REGION", default="US")
# The hospital's main line, shown as tap-to-call where no clinic is known yet (the log-in page). E.164.
HOSPITAL_PHONE = env.str("HOSPITAL_PHONE", default="+13125550111")
if not re.fullmatch(r"\+[1-9]\d{6,14}", HOSPITAL_PHONE):
    raise ImproperlyConfigured("HOSPITAL_PHONE must be in E.164 form, for example +13125550111.")

# --- Static files -----------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files browsers ask for at the site's root (favicon.ico, asked for on every page and by the admin).
WHITENOISE_ROOT = BASE_DIR / "portal" / "root_files"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ------------------------------------------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.org:587
globals().update(env.email_url("EMAIL_URL", default="consolemail://"))
# Every call to the outside world has a timeout: a mail server that accepts and never answers
# must not hold a worker for minutes.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Reminder channels: "outbox" keeps messages in the database (staff page /nurse/outbox/).
SMS_BACKEND = env.str("SMS_BACKEND", default="outbox")
# Print each message kept in the outbox to the terminal (the embedded default, for trying it).
OUTBOX_ECHO = env.bool("OUTBOX_ECHO", default=DEBUG)
REMINDER_EMAIL_BACKEND = env.str("REMINDER_EMAIL_BACKEND", default="email" if env.str("EMAIL_URL", "") else "outbox")
if SMS_BACKEND not in ("outbox", "twilio") or REMINDER_EMAIL_BACKEND not in ("outbox", "email"):
    raise ImproperlyConfigured("SMS_BACKEND must be outbox or twilio; REMINDER_EMAIL_BACKEND outbox or email.")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
# Twilio's REST API; the fault drills point it at a fake on this machine.
TWILIO_API_URL = env.str("TWILIO_API_URL", default="https://api.twilio.com").rstrip("/")
if SMS_BACKEND == "twilio" and not (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN):
    raise ImproperlyConfigured("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
# How often beat runs the reminder dispatcher (a due reminder waits up to this long to be
# claimed; a run with nothing due is one index lookup), and when a message in flight counts as stuck.
DISPATCH_SECONDS = env.float("DISPATCH_SECONDS", default=2.0)
REMINDER_STUCK_MINUTES = env.int("REMINDER_STUCK_MINUTES", default=10)
# How long a send task holds its reminders without renewing (reminders/leases.py); 0: three times the longer of
# the HTTP and SMTP timeouts. A worker that stops leaves its rows to the sweep once this runs out.
REMINDER_LEASE_SECONDS = env.float("REMINDER_LEASE_SECONDS", default=0.0)
# Texts or emails one worker process hands to Twilio or the mail server at once (threads that
# only wait on the provider), in one transaction; 1: one after another. Two processes have
# TWILIO_CONCURRENCY out; more share it.
PROVIDER_SEND_THREADS = env.int("PROVIDER_SEND_THREADS", default=40)
if PROVIDER_SEND_THREADS < 1:
    raise ImproperlyConfigured("PROVIDER_SEND_THREADS must be 1 or more.")
# Calls out to each provider at once, all send workers together (counted in Redis; 0: no shared
# bound). Twilio refuses requests beyond an account's concurrency, 100 unless raised: 80 leaves
# room for the portal's own look-ups and anything else on the account. A mail relay often takes
# only so many connections from one sender; each email is one connection.
PROVIDER_CONCURRENCY = {
    "twilio": env.int("TWILIO_CONCURRENCY", default=80),
    "email": env.int("SMTP_CONCURRENCY", default=20),
}
if min(PROVIDER_CONCURRENCY.values()) < 0:
    raise ImproperlyConfigured("TWILIO_CONCURRENCY and SMTP_CONCURRENCY must be 0 (no shared bound) or more.")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Marrow Ready <no-reply@marrowready.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery -----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Its own folder per run where two local portals share a checkout (the make run test does).
CELERY_BROKER_DIR = Path(env.str("BROKER_DIR", default=str(VAR_DIR / "broker")))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    # A broker that needs no server: messages are files under var/broker.
    # The host part means nothing to this transport; without one, kombu warns on every connection.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
    }
# Every Redis client waits at most this long for an answer; after a failure a process leaves Redis alone for
# REDIS_RETRY_SECONDS (portal/redis_guard.py): a Redis that stops answering makes pages slower, never fail.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=0.5)
REDIS_RETRY_SECONDS = env.float("REDIS_RETRY_SECONDS", default=10.0)
# The cache holds rate-limit counters and kept pages; Redis shares them across web containers. When Redis
# does not answer, the cache behaves as an empty one (portal/cache.py).
CACHES = {
    "default": {
        "BACKEND": "portal.cache.GuardedRedisCache",
        "LOCATION": REDIS_URL,  # timeouts from portal.redis_guard.options()
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# Sessions live in the database, the record: a sign-out or a password change holds even while Redis is away
# (a copy in Redis could outlive a delete it did not hear of and bring a closed session back).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# The family dashboard and appointment page, and the nurse's list and dashboard, are kept in Redis until
# anything on them changes (procedures/page_cache.py); on PostgreSQL with Redis only. PAGE_CACHE=0 makes every
# page afresh.
PAGE_CACHE = env.bool("PAGE_CACHE", default=True)
# The clinic quality page's figures are counted at most this often per clinic (procedures/quality.py); 0: always.
QUALITY_KEEP_SECONDS = env.int("QUALITY_KEEP_SECONDS", default=300)
# A counter evicted between being created and counted lets that one request through, as a fresh count would.
RATELIMIT_FAIL_OPEN = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
# Sends wait in one queue per channel, each served by its own workers (docker-compose.yml).
SEND_QUEUES = {channel: f"{CELERY_TASK_DEFAULT_QUEUE}-{channel}" for channel in ("sms", "email")}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# What a task prints (the outbox echo) reaches the terminal as printed, not as a WARNING log line.
CELERY_WORKER_REDIRECT_STDOUTS = False
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "portal.tasks.heartbeat", "schedule": env.float("HEARTBEAT_SECONDS", default=60.0)},
    "dispatch-reminders": {"task": "reminders.tasks.dispatch", "schedule": DISPATCH_SECONDS},
    # Often: a row the broker lost goes again within a minute (reminders.recovery.RING_AGAIN).
    "sweep-reminders": {"task": "reminders.tasks.sweep", "schedule": 15.0},
    "reconcile-reminders": {"task": "reminders.tasks.reconcile", "schedule": 60.0},
    # The clinic quality figures, counted a minute before the kept ones run out (procedures.quality).
    "count-quality": {"task": "procedures.tasks.count_quality", "schedule": max(QUALITY_KEEP_SECONDS - 60, 60)},
    # One heartbeat through each send queue: a worker stuck on a hung provider stops beating.
    **{
        f"heartbeat-{queue}": {
            "task": "reminders.tasks.queue_heartbeat",
            "schedule": 60.0,
            "args": [queue],
            "options": {"queue": queue, "expires": 55},
        }
        for queue in SEND_QUEUES.values()
    },
}
# Celery's Django fixup reads this from the app's configuration (not the environment):
# reuse each worker's database connection for this many tasks instead of one per task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG and env.bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_ABSOLUTE_HOURS = env.int("SESSION_ABSOLUTE_HOURS", default=8)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_HOURS * 3600
STAFF_IDLE_MINUTES = env.int("STAFF_IDLE_MINUTES", default=15)
FAMILY_IDLE_MINUTES = env.int("FAMILY_IDLE_MINUTES", default=30)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
# The lockout counts by the same client address as the audit log and rate limits (see portal/client.py):
# X-Forwarded-For only behind our own proxy, and then only the address it added.
AXES_CLIENT_IP_CALLABLE = "portal.client.client_ip"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks come from inside the container network, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
# Prometheus scrapes /metrics with this bearer token (portal/metrics.py); unset: /metrics is a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content Security Policy: our own files only; no inline script or style, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Logging ----------------------------------------------------------------
# One JSON object per line. Log ids and outcomes, never names, dates of birth,
# MRNs or message bodies.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Also write the log lines to this file (the test run checks them for health data).
LOG_FILE = env.str("LOG_FILE", default="")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "portal.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json"},
        **({"file": {"class": "logging.FileHandler", "filename": LOG_FILE, "formatter": "json"}} if LOG_FILE else {}),
    },
    "root": {"handlers": ["console", "file"] if LOG_FILE else ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own request logger repeats the path; ours is enough.
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}

# The HL7 MLLP listener: loopback unless an address is given (docker-compose binds 0.0.0.0 inside
# its network); connections silent this long, between messages or in the middle of one, are closed.
FEED_MLLP_HOST = env.str("FEED_MLLP_HOST", default="127.0.0.1")
FEED_MLLP_IDLE_SECONDS = env.float("FEED_MLLP_IDLE_SECONDS", default=300.0)
# Threads (each with its own database connection) applying messages of different appointments at once.
FEED_MLLP_DB_THREADS = env.int("FEED_MLLP_DB_THREADS", default=4)
# MLLP over TLS: the listener's certificate (PEM, with its chain) and key; with a client CA, only
# engines presenting a certificate that CA signed may connect. Unset: plain MLLP.
FEED_MLLP_TLS_CERT = env.str("FEED_MLLP_TLS_CERT", default="")
FEED_MLLP_TLS_KEY = env.str("FEED_MLLP_TLS_KEY", default="")
FEED_MLLP_TLS_CLIENT_CA = env.str("FEED_MLLP_TLS_CLIENT_CA", default="")
