"""The platform around the features: probes, API schema, production settings, security headers,
local-only assets and login rate limits."""

import importlib.util
import os
import re
import secrets
import string
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import OperationalError, connection

from hubs import selectors
from tests.conftest import verified_user
from tests.factories import HubFactory

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = ROOT / "gigafactory" / "settings.py"
PRODUCTION_VARS = (
    "GF_PRODUCTION",
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_DEBUG",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_HSTS_SECONDS",
    # The browser tests set this for Playwright's event loop; a deployment never has it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


# --- Probes -------------------------------------------------------------------------------


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_checks_the_database(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("not configured")


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_is_away(client, settings, monkeypatch):
    settings.REDIS_URL = ""

    def broken_cursor(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "error: OperationalError"


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_away(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["broker"].startswith("error")


@pytest.mark.django_db
def test_lost_database_is_a_503_page_not_a_500(client, monkeypatch):
    def lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(selectors, "network_at_a_glance", lost)
    page = client.get("/")
    assert page.status_code == 503
    assert page["Retry-After"] == "5"
    assert "cannot reach its database" in page.content.decode()


@pytest.mark.django_db
def test_lost_database_in_the_api_is_a_json_503(client, monkeypatch):
    import hubs.api

    def lost(user):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(hubs.api, "_hubs_with_counts", lost)
    response = client.get("/api/v1/hubs/")
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"


# --- API schema ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_openapi_schema_validates_without_warnings(tmp_path):
    from drf_spectacular.drainage import GENERATOR_STATS

    GENERATOR_STATS.reset()  # count only this run's warnings
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert text.startswith("openapi: 3.")
    assert "/api/v1/hubs/" in text
    assert "/api/v1/memberships/{id}/approve/" in text


# --- Production settings ------------------------------------------------------------------


def _random_secret(length=60):
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARS}
    env.update(
        GF_PRODUCTION="1",
        DJANGO_SECRET_KEY=_random_secret(),
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DJANGO_ALLOWED_HOSTS="portal.example.org",
        DJANGO_SETTINGS_MODULE="gigafactory.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output


def _load_settings_module(monkeypatch, **env):
    """Execute settings.py afresh under ``env`` (and no .env file), as a separate module."""
    monkeypatch.setattr(environ.Env, "read_env", classmethod(lambda cls, *args, **kwargs: None))
    for name in PRODUCTION_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("gigafactory_settings_under_test", SETTINGS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_production_without_a_secret_key_refuses_to_start(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
        _load_settings_module(
            monkeypatch,
            GF_PRODUCTION="1",
            DATABASE_URL="sqlite:////tmp/x.sqlite3",
            REDIS_URL="redis://127.0.0.1:6379/0",
            DJANGO_ALLOWED_HOSTS="portal.example.org",
        )


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS"])
def test_production_requires_the_addresses(monkeypatch, missing):
    env = {
        "GF_PRODUCTION": "1",
        "DJANGO_SECRET_KEY": _random_secret(),
        "DATABASE_URL": "sqlite:////tmp/x.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_ALLOWED_HOSTS": "portal.example.org",
    }
    del env[missing]
    with pytest.raises(ImproperlyConfigured, match=missing):
        _load_settings_module(monkeypatch, **env)


def test_production_settings_are_secure(monkeypatch):
    prod = _load_settings_module(
        monkeypatch,
        GF_PRODUCTION="1",
        DJANGO_SECRET_KEY=_random_secret(),
        DATABASE_URL="sqlite:////tmp/x.sqlite3",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DJANGO_ALLOWED_HOSTS="portal.example.org",
    )
    assert prod.DEBUG is False
    assert prod.SESSION_COOKIE_SECURE is True
    assert prod.CSRF_COOKIE_SECURE is True
    assert prod.SECURE_SSL_REDIRECT is True
    assert prod.SECURE_HSTS_SECONDS >= 31536000
    assert prod.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert prod.CELERY_TASK_ALWAYS_EAGER is False
    assert prod.ALLOWED_HOSTS == ["portal.example.org"]


def test_embedded_default_needs_no_environment(monkeypatch):
    embedded = _load_settings_module(monkeypatch)
    assert embedded.DEBUG is True
    assert embedded.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert embedded.CELERY_TASK_ALWAYS_EAGER is True
    assert embedded.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"


# --- Security headers and local assets ----------------------------------------------------

PORTAL_PAGES = ["/", "/hubs/", "/hubs/lyon/", "/accounts/login/", "/accounts/signup/", "/admin/login/", "/no-such"]
DOCS_PAGES = ["/api/docs/", "/api/redoc/"]


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part for part in (p.strip() for p in header.split(";")) if part}


@pytest.mark.django_db
@pytest.mark.parametrize("path", [*PORTAL_PAGES, "/api/v1/hubs/", "/healthz", "/dashboard/"])
def test_every_portal_page_has_a_strict_csp(client, path):
    HubFactory(slug="lyon")
    response = client.get(path)
    assert "Content-Security-Policy" in response
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    policy = _csp(response)
    assert policy["script-src"] == "script-src 'self'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCS_PAGES)
def test_api_docs_pages_never_allow_inline_scripts(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = _csp(response)
    assert policy["script-src"] == "script-src 'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_redoc_bundle_takes_the_pages_nonce_and_loads_nothing_from_elsewhere(client):
    page = client.get("/api/redoc/")
    nonce = re.search(r"'nonce-([^']+)'", page["Content-Security-Policy"])[1]
    assert f'nonce="{nonce}"' in page.content.decode()
    assert client.get("/api/redoc/").content.decode().count(nonce) == 0  # a new nonce per response
    bundle = client.get("/api/redoc/redoc.standalone.js")
    assert bundle.status_code == 200
    assert bundle["Content-Type"].startswith("text/javascript")
    text = bundle.content.decode()
    assert "document.currentScript.nonce" in text
    assert "cdn.redoc.ly" not in text


ASSET_RE = re.compile(r"<(script|link|img)\b[^>]*?\b(src|href)=\"([^\"]*)\"", re.IGNORECASE)


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCS_PAGES)
def test_api_docs_use_only_local_assets(client, settings, path):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the apps, as after collectstatic
    settings.WHITENOISE_AUTOREFRESH = True
    html = client.get(path).content.decode()
    assets = [(tag, url) for tag, _, url in ASSET_RE.findall(html)]
    assert any(tag == "script" for tag, _ in assets)
    for tag, url in assets:
        assert not re.match(r"^(https?:)?//", url), f"{tag} loads {url} from elsewhere"
        assert url.startswith(("/static/", path)), f"{tag} loads {url}"
    assert "<script>" not in html  # no inline script: the CSP would block it
    for tag, url in assets:
        if tag == "script" and url.startswith("/static/"):
            assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_swagger_ui_script_is_served_by_the_app(client):
    response = client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert "SwaggerUIBundle" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", PORTAL_PAGES)
def test_portal_pages_have_no_inline_script_or_style_and_no_cdn(client, path):
    HubFactory(slug="lyon")
    html = client.get(path).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html
    assert not re.search(r"\sstyle=\"", html), "inline style attribute"
    for _, _, url in ASSET_RE.findall(html):
        assert not re.match(r"^(https?:)?//", url), url


# --- Login rate limits (allauth) ----------------------------------------------------------


@pytest.fixture
def person(db):
    return verified_user(email="lin@example.org")


def _login(client, password):
    return client.post("/accounts/login/", {"login": "lin@example.org", "password": password})


def test_failed_logins_are_rate_limited(client, person):
    assert django_settings.ACCOUNT_RATE_LIMITS["login_failed"] == "5/5m/ip,5/5m/key"
    for _ in range(5):
        response = _login(client, "wrong password")
        assert response.status_code == 200
        assert "The email address and/or password you specified are not correct." in response.content.decode()
    # The sixth attempt is refused even with the right password.
    response = _login(client, "correct horse battery")
    assert response.status_code == 200
    assert "Too many failed login attempts. Try again later." in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated


def test_failures_for_one_address_do_not_lock_out_the_right_password_early(client, person):
    for _ in range(4):
        _login(client, "wrong password")
    response = _login(client, "correct horse battery")
    assert response.status_code == 302
    assert response.wsgi_request.user.is_authenticated


def test_hammering_the_login_form_gets_429(client, person):
    statuses = [_login(client, "wrong password").status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_every_periodic_task_in_the_beat_schedule_exists():
    from gigafactory.celery import app

    app.loader.import_default_modules()
    names = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert names - set(app.tasks) == set()
    # The sweepers that make lost messages good again and the reminders are all scheduled.
    assert {
        "compute.tasks.expire_allocations",
        "compute.tasks.resend_stalled_screenings",
        "hubs.webhooks.tasks.deliver_due",
        "hubs.network.tasks.sweep",
        "hubs.network.tasks.send_daily_digests",
        "pilots.clinics.tasks.send_clinic_reminders",
        "compliance.assurance.tasks.resend_pending",
        "gigafactory.tasks.forget_expired_idempotency_keys",
    } <= names


def test_with_a_mail_queue_every_email_task_and_no_other_is_routed_to_it():
    from fnmatch import fnmatchcase

    from celery.app.routes import Router, prepare
    from django.conf import settings

    from gigafactory.celery import app

    routes = {pattern: {"queue": "mail"} for pattern in settings.MAIL_TASKS}
    router = Router(prepare(routes), app.amqp.queues, create_missing=True, app=app)
    app.loader.import_default_modules()  # every app's tasks module (autodiscovery is lazy)
    names = sorted(name for name in app.tasks if not name.startswith("celery."))
    mailed = {name for name in names if router.route({}, name).get("queue").name == "mail"}
    assert {n for n in names if "email" in n or n.endswith(("_digests", "_reminders"))} == mailed
    assert "hubs.tasks.send_notification_emails" in mailed
    assert not any(fnmatchcase("compute.tasks.screen_submitted", p) for p in settings.MAIL_TASKS)


def test_gunicorn_workers_freeze_what_they_loaded():
    """gunicorn reads gunicorn.conf.py from the project root; its worker hook moves the loaded
    app (views included) out of the garbage collector's way (docs/benchmarks.md, ingest)."""
    root = Path(__file__).resolve().parent.parent
    script = (
        "import gc, runpy, sys, django; django.setup(); "
        "hooks = runpy.run_path('gunicorn.conf.py'); before = gc.get_freeze_count(); "
        "views_before = 'compute.workflow_api' in sys.modules; hooks['post_worker_init'](None); "
        "print(before, gc.get_freeze_count(), views_before, 'compute.workflow_api' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gigafactory.settings"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "0"
    assert int(out[1]) > 50_000  # Django, DRF and the portal's modules: some 200,000 objects
    assert out[2:] == ["False", "True"]  # the hook imported the URLconf (and the views) before freezing
