"""Settings for 台州市区社保一体化. Everything deployment-specific comes from the environment."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_database, env_int, env_list, env_redis

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=True)
TESTING = env_bool("TESTING", default=False)

_secret = os.environ.get("SECRET_KEY", "").strip()
if not _secret:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Environment variable SECRET_KEY is required when DEBUG is off "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    _key_file = BASE_DIR / ".secret_key"
    if _key_file.exists():
        _secret = _key_file.read_text().strip()
    else:
        _secret = secrets.token_urlsafe(50)
        with contextlib.suppress(OSError):
            _key_file.write_text(_secret)
SECRET_KEY = _secret

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "simple_history",
    "axes",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "registry",
    "policies",
    "contributions",
    "funds",
    "cases",
    "payroll",
    "consolidation",
    "hall",
    "evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "registry.middleware.RequestIdMiddleware",
    "registry.middleware.ApiMiddleware",  # /api/ only: call log, idempotency, errors in the one JSON format
    # Django's SessionMiddleware, except that under HALL_URL_PREFIX the session is the hall's own (its cookie name and
    # path): staff and online-hall sessions never meet (hall/middleware.py, docs/architecture.md "hall").
    "hall.middleware.HallSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "hall.middleware.HallAccountMiddleware",  # under /hall/: no staff user, request.hall_account instead
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle and absolute session lifetime, the second factor, an expired or reset password (docs/security.md).
    "registry.security.middleware.SessionPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    "registry.middleware.ApplicationErrorMiddleware",  # a refusal raised by a service: its message and status
    "registry.middleware.NulCharacterMiddleware",  # last: its 400 page is an ordinary page (user, office)
]

ROOT_URLCONF = "taizhou_si.urls"

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
                "registry.context_processors.staff_context",
            ],
        },
    },
]

WSGI_APPLICATION = "taizhou_si.wsgi.application"

DATABASES = {"default": env_database("DATABASE_URL", str(BASE_DIR / "db.sqlite3"))}
# Least privilege (docs/security.md): web and workers connect as the application role (DATABASE_URL); manage.py
# runs migrate, seed_demo, load_demo and db_roles as the owner role (DATABASE_OWNER_URL) and grants the
# application role (DATABASE_APP_ROLE, by default the user of DATABASE_URL) its row access after each migration.
DATABASE_APP_ROLE = os.environ.get("DATABASE_APP_ROLE", "").strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# An optional PostgreSQL streaming replica (hot standby) for statistics, reports and exports (registry/replica.py,
# docs/scaling.md): skipped while its replay lags more than REPLICA_MAX_LAG_SECONDS, checked at most every
# REPLICA_CHECK_SECONDS per process. Writes, reads inside a transaction and the change feed stay on the primary.
REPLICA_DATABASE_URL = os.environ.get("REPLICA_DATABASE_URL", "").strip()
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 30)
REPLICA_CHECK_SECONDS = env_int("REPLICA_CHECK_SECONDS", 5)
if REPLICA_DATABASE_URL:
    if not IS_POSTGRES:
        raise ImproperlyConfigured("REPLICA_DATABASE_URL needs DATABASE_URL to be PostgreSQL as well.")
    DATABASES["replica"] = env_database("REPLICA_DATABASE_URL", "")
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}  # tests: the replica alias reads the test database
    DATABASE_ROUTERS = ["registry.replica.ReplicaRouter"]

AUTH_USER_MODEL = "registry.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Passwords (等保 2.0 身份鉴别; registry.security.passwords): length, three character classes, not the user name,
# none of the last PASSWORD_HISTORY_COUNT, changed every PASSWORD_MAX_AGE_DAYS days (0: never expires).
PASSWORD_MIN_LENGTH = env_int("PASSWORD_MIN_LENGTH", 12)
PASSWORD_HISTORY_COUNT = env_int("PASSWORD_HISTORY_COUNT", 5)
PASSWORD_MAX_AGE_DAYS = env_int("PASSWORD_MAX_AGE_DAYS", 90)
if PASSWORD_MIN_LENGTH < 12:
    raise ImproperlyConfigured(f"PASSWORD_MIN_LENGTH={PASSWORD_MIN_LENGTH}: at least 12 characters are required.")
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "registry.security.passwords.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "registry.security.passwords.CharacterClassesValidator", "OPTIONS": {"min_classes": 3}},
    {"NAME": "registry.security.passwords.NotContainingUsernameValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "registry.security.passwords.PasswordHistoryValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Sessions and cookies: an intranet system, but cookies are still guarded. A staff session ends after
# SESSION_IDLE_TIMEOUT_MINUTES without a request and SESSION_ABSOLUTE_HOURS after the login; with
# SESSION_SINGLE_PER_USER a new login ends the user's other sessions (registry.security.sessions).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_IDLE_TIMEOUT_MINUTES = env_int("SESSION_IDLE_TIMEOUT_MINUTES", 30)
SESSION_ABSOLUTE_HOURS = env_int("SESSION_ABSOLUTE_HOURS", 10)
SESSION_SINGLE_PER_USER = env_bool("SESSION_SINGLE_PER_USER", default=False)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Messages live in the session, never in a readable cookie (a new key's secret was once shown that way).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Second factor (registry.security.twofactor): always for administrators (is_staff), superusers, city-level
# staff and city administrators; also for the roles named here (comma-separated role names, e.g. 审核,负责人).
TWO_FACTOR_REQUIRED_ROLES = env_list("TWO_FACTOR_REQUIRED_ROLES", [])
OTP_TOTP_ISSUER = "台州市区社保一体化"
OTP_TOTP_THROTTLE_FACTOR = 1  # each failure doubles the wait before the next code is checked

# The security log (registry.SecurityEvent) is kept at least 6 months (等保 2.0); PostgreSQL refuses to delete a
# younger row whatever this says.
SECURITY_LOG_RETENTION_DAYS = env_int("SECURITY_LOG_RETENTION_DAYS", 365)
if SECURITY_LOG_RETENTION_DAYS < 183:
    raise ImproperlyConfigured(
        f"SECURITY_LOG_RETENTION_DAYS={SECURITY_LOG_RETENTION_DAYS}: the security log is kept at least 183 days."
    )

# Cache: Redis when available (shared by all web and worker machines), local memory otherwise. While Redis is
# unreachable the cache degrades to "empty" with a logged warning instead of failing requests (registry/cache.py).
REDIS_URL = env_redis("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "registry.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "tzsi"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: with no REDIS_URL tasks run in-process, so `make run` needs no broker.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
# Reliability (why each one: docs/operations.md, "Celery settings"). Every task is idempotent and thin, so the
# choice is "at least once": a message is acknowledged only after its task finished (acks_late), and a worker
# process that dies mid-task (SIGKILL, out of memory) puts it back (reject_on_worker_lost). One message reserved
# per process (prefetch 1): a bill run must not wait behind a message another busy process holds.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis gives an unacknowledged message to another worker after visibility_timeout: longer than the longest task
# (a city bill run, a million-line payment file), or a healthy long task would be started a second time. Recovery
# from a lost worker does not wait for it: the sweeper (below) re-enqueues a job whose lock nobody holds.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # A Redis that does not answer must not hold a web request: fail fast, the sweeper dispatches later.
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
    "retry_on_timeout": True,
    "health_check_interval": 15,
    # Publishing (web tier): a short retry, then the write stays queued for the sweeper (registry.task_queue).
    "max_retries": 1,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 10, "retry_on_timeout": True}
# Nothing reads task results (the records carry their status): a Redis gone while a task finishes cannot fail it.
CELERY_TASK_IGNORE_RESULT = True
# Workers reconnect to a lost broker for ever (and wait for it at start-up) instead of exiting.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 4
# A task running when the broker connection drops goes on (its work is in PostgreSQL); its message is delivered
# again by Redis or re-enqueued by the sweeper, and the idempotent task then finds it done.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "taizhou_si")
# The sweeper (contributions.services.sweeper): every JOB_SWEEP_INTERVAL_SECONDS it re-enqueues bill runs, bill
# exports and payment files whose task is gone — queued or running for longer than JOB_STALE_SECONDS while no
# worker holds the job's advisory lock. Beat copies this entry into django-celery-beat's table at start.
# Employers per committed chunk of a bill run (a killed worker loses at most one chunk's work; resumed after it).
# Each chunk reads its slice of the enrollments and the declarations once: about 1,000,000 lines per chunk at 10,000
# employers; smaller chunks cost more statements and re-reads (docs/benchmarks.md, the bill run).
BILL_RUN_CHUNK_EMPLOYERS = env_int("BILL_RUN_CHUNK_EMPLOYERS", 10000)
JOB_SWEEP_INTERVAL_SECONDS = env_int("JOB_SWEEP_INTERVAL_SECONDS", 60)
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 300)
CELERY_BEAT_SCHEDULE = {
    "contributions.jobs_sweep": {"task": "contributions.jobs_sweep", "schedule": float(JOB_SWEEP_INTERVAL_SECONDS)},
    # 滞纳金: late-fee bills of bills paid in full late by any path missed (payment files enqueue their own); daily.
    "contributions.late_fee_bills_sweep": {"task": "contributions.late_fee_bills_sweep", "schedule": 86400.0},
    "payroll.runs_sweep": {"task": "payroll.runs_sweep", "schedule": float(JOB_SWEEP_INTERVAL_SECONDS)},
}
# The benefit payroll (payroll.services.run): awards per committed chunk; the yearly certification's cycle, how long
# before the due date a recipient is reminded, and how long after the reminder he is suspended (docs/payroll.md).
PAYROLL_CHUNK_AWARDS = env_int("PAYROLL_CHUNK_AWARDS", 100000)
PAYROLL_CERTIFICATION_MONTHS = env_int("PAYROLL_CERTIFICATION_MONTHS", 12)
PAYROLL_CERTIFICATION_REMIND_DAYS = env_int("PAYROLL_CERTIFICATION_REMIND_DAYS", 30)
PAYROLL_CERTIFICATION_GRACE_DAYS = env_int("PAYROLL_CERTIFICATION_GRACE_DAYS", 60)

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@shebao.taizhou.example")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "registry.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "registry.api.permissions.SystemOperationPermission",
        "registry.api.permissions.StaffModelPermissions",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["registry.api.throttle.SystemAccountRateThrottle"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON nested deeper than API_JSON_MAX_DEPTH is a 400, never a RecursionError (registry/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "registry.api.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "registry.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    # Error responses, Chinese tags and field titles for every operation (registry/api/schema.py).
    "DEFAULT_SCHEMA_CLASS": "registry.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "registry.api.errors.exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "台州市区社保一体化 API",
    "DESCRIPTION": "供区级系统、征收机构（税务）和省级系统对接的 REST 接口。所有记录按调用方所属经办机构的辖区过滤，辖区外记录返回 404。",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI is served from the vendored sidecar package: government intranets have no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "registry.api.schema.tag_descriptions",
    ],
    # Choice sets sharing a field name across apps get explicit component names (else: hashed names, warnings).
    "ENUM_NAME_OVERRIDES": {
        "InsuranceTypeEnum": "registry.models.InsuranceType",
        "EmployerStatusEnum": "registry.models.EmployerStatus",
        "DocumentLevelEnum": "policies.models.DocumentLevel",
        "DocumentStatusEnum": "policies.models.DocumentStatus",
        "ParameterKindEnum": "policies.models.ParameterKind",
        "ContributionChannelEnum": "contributions.models.Channel",
        "DeclarationStatusEnum": "contributions.models.DeclarationStatus",
        "BillKindEnum": "contributions.models.BillKind",
        "IndicatorLevelEnum": "funds.models.Level",
        "CaseChannelEnum": "cases.models.Channel",
        "ConsolidationFileKindEnum": "consolidation.models.FileKind",
        "ConsolidationBatchStatusEnum": "consolidation.models.BatchStatus",
        "ConsolidationFileStatusEnum": "consolidation.models.FileStatus",
    },
}

# External systems' API (docs/api.md): default calls per minute of a system account without its own limit,
# days the call log is kept, proxies in front of the web servers (for the client address), Idempotency-Key.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)
API_CALL_LOG_RETENTION_DAYS = env_int("API_CALL_LOG_RETENTION_DAYS", 180)
API_TRUSTED_PROXY_COUNT = env_int("API_TRUSTED_PROXY_COUNT", 0)
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)
IDEMPOTENCY_WAIT_SECONDS = 5  # a repeat arriving while the first request works waits this long, then 409
IDEMPOTENCY_STALE_SECONDS = 300  # an in-progress key older than this belongs to a dead worker
# Failed API-key attempts (registry.api.lockout): after API_KEY_FAILURE_LIMIT failures within
# API_KEY_FAILURE_WINDOW_SECONDS, the key prefix and the calling address are refused for API_KEY_LOCKOUT_SECONDS.
API_KEY_FAILURE_LIMIT = env_int("API_KEY_FAILURE_LIMIT", 10)
API_KEY_FAILURE_WINDOW_SECONDS = env_int("API_KEY_FAILURE_WINDOW_SECONDS", 900)
API_KEY_LOCKOUT_SECONDS = env_int("API_KEY_LOCKOUT_SECONDS", 900)
# Nesting depth of a JSON request body (deeper is a 400, never a RecursionError).
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32)

# Webhook receivers (registry.feed.targets): https only unless WEBHOOK_ALLOW_HTTP; a receiver's address must not
# be loopback, private, link-local, multicast or reserved — checked after DNS resolution at registration and again
# before every delivery — unless it lies in WEBHOOK_ALLOWED_NETWORKS (CIDRs of the government network where the
# district systems listen, e.g. 10.33.0.0/16) or its host is in WEBHOOK_ALLOWED_HOSTS.
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", default=DEBUG)
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS", [])
WEBHOOK_ALLOWED_HOSTS = env_list("WEBHOOK_ALLOWED_HOSTS", [])

# Login throttling (django-axes): 5 failures per username+IP lock out for an hour.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registry/locked_out.html"
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)
AXES_VERBOSE = False

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# Uploaded tables (registry/tables.py): limits checked before an xlsx is parsed, then row by row. Inside a web request
# (a payroll, an expenditure file) small; in a Celery worker (a payment file of a million lines) large.
TABLE_WEB_LIMITS = {
    "max_bytes": env_int("TABLE_WEB_MAX_BYTES", 20 * 1024 * 1024),
    "max_uncompressed_bytes": env_int("TABLE_WEB_MAX_UNCOMPRESSED_BYTES", 64 * 1024 * 1024),
    "max_rows": env_int("TABLE_WEB_MAX_ROWS", 100_000),
    "max_columns": env_int("TABLE_WEB_MAX_COLUMNS", 64),
    "max_seconds": env_int("TABLE_WEB_MAX_SECONDS", 20),
}
TABLE_WORKER_LIMITS = {
    "max_bytes": env_int("TABLE_WORKER_MAX_BYTES", 300 * 1024 * 1024),
    "max_uncompressed_bytes": env_int("TABLE_WORKER_MAX_UNCOMPRESSED_BYTES", 512 * 1024 * 1024),
    "max_rows": env_int("TABLE_WORKER_MAX_ROWS", 1_048_576),
    "max_columns": env_int("TABLE_WORKER_MAX_COLUMNS", 64),
    "max_seconds": env_int("TABLE_WORKER_MAX_SECONDS", 900),
}

# Import-export: every import is one transaction; a bad row writes nothing.
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False

# Management commands later apps add to `load_demo` (their own demo data), run in this order.
DEMO_DATA_HOOKS: list[str] = ["consolidation_demo", "hall_demo", "life_demo", "payroll_demo"]

# Data consolidation (数据大集中, docs/legacy-import.md): the folder district exports are dropped into (one folder
# per batch with a batch.json; empty: no folder import), and the limits checked before a file is read.
CONSOLIDATION_IMPORT_DIR = os.environ.get("CONSOLIDATION_IMPORT_DIR", "")
CONSOLIDATION_FOLDER_SCAN_SECONDS = env_int("CONSOLIDATION_FOLDER_SCAN_SECONDS", 300)
CONSOLIDATION_CHUNK_MAX_BYTES = env_int("CONSOLIDATION_CHUNK_MAX_BYTES", 64 * 1024 * 1024)
CONSOLIDATION_FILE_MAX_BYTES = env_int("CONSOLIDATION_FILE_MAX_BYTES", 32 * 1024 * 1024 * 1024)
CONSOLIDATION_XLSX_MAX_BYTES = env_int("CONSOLIDATION_XLSX_MAX_BYTES", 100 * 1024 * 1024)
CONSOLIDATION_XLSX_MAX_UNCOMPRESSED_BYTES = env_int("CONSOLIDATION_XLSX_MAX_UNCOMPRESSED_BYTES", 1024 * 1024 * 1024)
CONSOLIDATION_XLSX_MAX_ROWS = env_int("CONSOLIDATION_XLSX_MAX_ROWS", 1_048_576)
CONSOLIDATION_XLSX_MAX_COLUMNS = env_int("CONSOLIDATION_XLSX_MAX_COLUMNS", 64)
CONSOLIDATION_XLSX_MAX_SECONDS = env_int("CONSOLIDATION_XLSX_MAX_SECONDS", 600)
# A working batch whose worker holds no lock and whose heartbeat is older than this is stuck (re-enqueued).
CONSOLIDATION_STALE_SECONDS = env_int("CONSOLIDATION_STALE_SECONDS", 300)

# Online service hall (网上办事大厅, hall/): its own session cookie under its own path, its own authentication
# backend, SMS one-time codes through a pluggable backend, and throttles (docs/architecture.md "hall").
HALL_URL_PREFIX = "/hall/"
HALL_SESSION_COOKIE_NAME = os.environ.get("HALL_SESSION_COOKIE_NAME", "tzsi_hall")
HALL_SESSION_IDLE_MINUTES = env_int("HALL_SESSION_IDLE_MINUTES", 30)
HALL_AUTHENTICATION_BACKEND = "hall.auth.HallAccountBackend"
# SMS: hall.sms.ConsoleBackend (development), hall.sms.FileBackend (HALL_SMS_FILE_DIR), hall.sms.LocmemBackend
# (tests: hall.sms.outbox), hall.sms.HttpGatewayBackend (production: HALL_SMS_GATEWAY_URL and _TOKEN).
HALL_SMS_BACKEND = os.environ.get("HALL_SMS_BACKEND", "hall.sms.ConsoleBackend")
HALL_SMS_FILE_DIR = os.environ.get("HALL_SMS_FILE_DIR", str(BASE_DIR / "sms-outbox"))
HALL_SMS_GATEWAY_URL = os.environ.get("HALL_SMS_GATEWAY_URL", "")
HALL_SMS_GATEWAY_TOKEN = os.environ.get("HALL_SMS_GATEWAY_TOKEN", "")
HALL_SMS_GATEWAY_TIMEOUT_SECONDS = env_int("HALL_SMS_GATEWAY_TIMEOUT_SECONDS", 5)
HALL_SMS_CODE_TTL_SECONDS = 300  # 5 minutes
HALL_SMS_CODE_MAX_TRIES = 5
HALL_SMS_RESEND_SECONDS = env_int("HALL_SMS_RESEND_SECONDS", 60)  # one code per phone per minute
HALL_SMS_PER_PHONE_HOUR = env_int("HALL_SMS_PER_PHONE_HOUR", 5)
HALL_SMS_PER_IP_HOUR = env_int("HALL_SMS_PER_IP_HOUR", 20)
HALL_LOGIN_FAILURES_PER_ACCOUNT = env_int("HALL_LOGIN_FAILURES_PER_ACCOUNT", 5)
HALL_LOGIN_FAILURES_PER_IP = env_int("HALL_LOGIN_FAILURES_PER_IP", 30)
HALL_LOGIN_LOCK_MINUTES = env_int("HALL_LOGIN_LOCK_MINUTES", 15)
HALL_ACTIVATION_CODE_DAYS = env_int("HALL_ACTIVATION_CODE_DAYS", 7)
# Months in which residents are reminded to choose next year's pension grade (demo value: November, December).
HALL_GRADE_SEASON_MONTHS = tuple(int(m) for m in env_list("HALL_GRADE_SEASON_MONTHS", ["11", "12"]))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}

# Response headers. A Content-Security-Policy on every response (django-csp): scripts and styles from this
# site only, no inline script and no eval (inline handlers live in static/js/); images may be data: URLs (the
# QR codes). HSTS and the HTTPS redirect when DEBUG is off, behind a proxy that says so in
# SECURE_PROXY_SSL_HEADER (e.g. SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Templates and the admin still carry style attributes; styles cannot run code.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
_proxy_header = env_list("SECURE_PROXY_SSL_HEADER", [])
if _proxy_header:
    if len(_proxy_header) != 2:
        raise ImproperlyConfigured(
            "Environment variable SECURE_PROXY_SSL_HEADER must be '<META name>,<value>', e.g. HTTP_X_FORWARDED_PROTO,https."
        )
    SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1])
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
