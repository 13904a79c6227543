"""Benchmark settings: the portal's settings, production-like (DEBUG off), plus the baseline views."""

from gigafactory.settings import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
# No throttling in the measurements: the load generator is one client sending many requests.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": [], "DEFAULT_THROTTLE_RATES": {}}  # noqa: F405
# Database connections are kept between requests and tasks, as in production (GF_PRODUCTION=1
# sets 60 s): without it every request and every task opens a new PostgreSQL connection.
DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405
