"""One environment-driven settings module.

With no environment at all the portal runs embedded: SQLite, Celery tasks executed
eagerly in-process, e-mail printed to the console, DEBUG on. ``GF_PRODUCTION=1`` turns
the insecure defaults off and makes the secrets and addresses required.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

PROD = env.bool("GF_PRODUCTION", default=False)


def dev_only(value):
    """A default for the embedded mode; in production the variable is required."""
    return environ.Env.NOTSET if PROD else value


DEBUG = env.bool("DJANGO_DEBUG", default=not PROD)
SECRET_KEY = env("DJANGO_SECRET_KEY", default=dev_only("dev-insecure-" + "x" * 50))
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=dev_only(["127.0.0.1", "localhost", "[::1]", "testserver"]))
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("GF_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.orcid",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "gigafactory",
    "hubs",
    "compute",
    "pilots",
    "compliance",
    # Apps of their own (own tables, labels and migrations) inside the four domain packages.
    "compliance.assurance",
    "pilots.clinics",
    "pilots.events",
    "hubs.network",
    "hubs.webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "gigafactory.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "hubs.middleware.StaffMfaRequiredMiddleware",
    "gigafactory.idempotency.IdempotencyKeyMiddleware",
    "gigafactory.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "gigafactory.urls"
WSGI_APPLICATION = "gigafactory.wsgi.application"

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
                "hubs.context_processors.navigation",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=dev_only(f"sqlite:///{BASE_DIR / 'dev.sqlite3'}"))}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60 if PROD else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default=dev_only(""))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A request never hangs on an unreachable Redis (the API throttle then lets it through).
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the database connection before and after every task unless this is
# set; gigafactory.celery closes only broken or old ones instead (CONN_MAX_AGE, CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = 1000
# E-mail tasks go to a queue of their own when GF_MAIL_QUEUE is set (docker-compose runs the
# "mailer" worker on it), so that a burst of e-mail never waits in front of screenings.
MAIL_QUEUE = env("GF_MAIL_QUEUE", default="")
MAIL_TASKS = ("*.send_*email", "*.send_*emails", "*.send_daily_digests", "*.send_clinic_reminders")
CELERY_TASK_ROUTES = {pattern: {"queue": MAIL_QUEUE} for pattern in MAIL_TASKS} if MAIL_QUEUE else {}
# The queue tasks are sent to, by the web processes and by tasks that send tasks. A separate
# deployment (or a test's own worker) sharing one Redis sets its own.
CELERY_TASK_DEFAULT_QUEUE = env("GF_CELERY_QUEUE", default="celery")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request never waits long on the broker: connect within 2 s, and gigafactory.outbox gives up
# after one quick retry (the sweeper below re-sends what could not be sent).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Installed into django-celery-beat's database schedule when beat starts.
CELERY_BEAT_SCHEDULE = {
    "expire-allocations": {"task": "compute.tasks.expire_allocations", "schedule": 24 * 3600},
    # Screenings whose message was lost (broker down at submit, worker killed mid-task).
    "resend-stalled-screenings": {"task": "compute.tasks.resend_stalled_screenings", "schedule": 60},
    # Webhook deliveries whose next attempt is due (retries with backoff live in the database).
    "webhooks-deliver-due": {"task": "hubs.webhooks.tasks.deliver_due", "schedule": 60},
    # Calls whose window began; news fan-outs and e-mails whose message was lost.
    "network-sweep": {"task": "hubs.network.tasks.sweep", "schedule": 5 * 60},
    "network-daily-digests": {"task": "hubs.network.tasks.send_daily_digests", "schedule": 3600},
    "clinic-reminders": {"task": "pilots.clinics.tasks.send_clinic_reminders", "schedule": 3600},
    # Fairness runs and drift batches whose computation message was lost.
    "forget-expired-idempotency-keys": {
        "task": "gigafactory.tasks.forget_expired_idempotency_keys",
        "schedule": 24 * 3600,
    },
    "assurance-resend-pending": {"task": "compliance.assurance.tasks.resend_pending", "schedule": 5 * 60},
}

# --- Auth, allauth, MFA ---------------------------------------------------------------
AUTH_USER_MODEL = "hubs.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "hubs:dashboard"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PROD else "http"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[AI Gigafactory Network] "
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": env("GF_LOGIN_FAILED_RATE", default="5/5m/ip,5/5m/key"),
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "AI Gigafactory Network"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_PROVIDERS = {"orcid": {"BASE_DOMAIN": env("ORCID_BASE_DOMAIN", default="orcid.org"), "MEMBER_API": False}}
if env("ORCID_CLIENT_ID", default="") and env("ORCID_SECRET", default=""):
    SOCIALACCOUNT_PROVIDERS["orcid"]["APPS"] = [
        {"client_id": env("ORCID_CLIENT_ID"), "secret": env("ORCID_SECRET"), "key": ""}
    ]

# --- E-mail ---------------------------------------------------------------------------
EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend" if PROD else "django.core.mail.backends.console.EmailBackend",
)
if PROD or env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="AI Gigafactory Network <noreply@gigafactory.test>")

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gigafactory.api.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["gigafactory.api.ApiKeyScopePermission"],
    "DEFAULT_PAGINATION_CLASS": "gigafactory.api.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "gigafactory.api.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["gigafactory.api.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("GF_API_RATE", default="1200/min")},
    "DEFAULT_SCHEMA_CLASS": "gigafactory.schema.AutoSchema",
    "EXCEPTION_HANDLER": "gigafactory.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI Gigafactory Network API",
    "DESCRIPTION": (
        "REST API of the AI Gigafactory Network portal. Partner systems and users authenticate with "
        "`Authorization: Bearer <api key>`. Errors are JSON; a transition that is not allowed is HTTP 409."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status"; name each enum after its model so the schema stays unambiguous.
    "ENUM_NAME_OVERRIDES": {
        "MembershipStatusEnum": "hubs.models.MembershipStatus",
        "ApplicationStatusEnum": "compute.models.AppStatus",
        "AllocationStatusEnum": "compute.models.AllocationStatus",
        "ReviewStatusEnum": "compute.models.ReviewStatus",
        "SectorEnum": "hubs.models.Sector",
        "NewsKindEnum": "hubs.network.models.NewsKind",
        "DeliveryStatusEnum": "hubs.webhooks.models.DeliveryStatus",
        "EndpointStatusEnum": "hubs.webhooks.models.EndpointStatus",
        "AISystemRoleEnum": "compliance.models.Role",
        "ModalityEnum": "compliance.models.Modality",
        "DeploymentStatusEnum": "compliance.models.DeploymentStatus",
        "RiskClassEnum": "compliance.models.RiskClass",
        "AssessmentStatusEnum": "compliance.models.AssessmentStatus",
        "ChecklistItemStatusEnum": "compliance.models.ItemStatus",
        "ChecklistSectionEnum": "compliance.models.ItemSection",
        "EvidenceTypeEnum": "compliance.models.EvidenceType",
        "EvidenceKindEnum": "compliance.models.EvidenceKind",
        "BoardReviewStatusEnum": "compliance.models.ReviewStatus",
        # Named so that events' "role" and "mode" do not rename the hub role and the clinic mode.
        "RoleEnum": "hubs.models.Role",
        "ModeEnum": ["on_site", "online"],
        "EventKindEnum": "pilots.events.models.EventKind",
        "EventModeEnum": "pilots.events.models.EventMode",
        "EventStatusEnum": "pilots.events.models.EventStatus",
        "RegistrationRoleEnum": "pilots.events.models.RegistrationRole",
        "RegistrationStatusEnum": "pilots.events.models.RegistrationStatus",
    },
}

# --- Internationalisation, static, media ------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "Europe/Brussels"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PROD
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("GF_MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security -------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if PROD:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_HTTPONLY = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Portal ---------------------------------------------------------------------------
GF_SEED_ON_FIRST_RUN = env.bool("GF_SEED_ON_FIRST_RUN", default=not PROD)
GF_INVITATION_DAYS = 14
