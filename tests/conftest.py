"""Shared fixtures. Tests run eagerly in-process unless a test asks for a real worker."""

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.cache import cache

from gigafactory.celery import app as celery_app
from hubs.models import Role

from .factories import HubFactory, MembershipFactory, UserFactory


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Run tasks in-process by default, even when REDIS_URL points at a real broker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fast_and_quiet(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Rate limits (allauth, API throttles) live in the cache: start every test with none used.
    cache.clear()


def verified_user(**kwargs):
    user = UserFactory(**kwargs)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def enable_mfa(user) -> str:
    """Give ``user`` a TOTP authenticator; returns the secret so a test can make codes."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


@pytest.fixture
def hub(db):
    return HubFactory(name="Lyon AI Gigafactory", slug="lyon", city="Lyon", country="FR")


@pytest.fixture
def other_hub(db):
    return HubFactory(name="Helsinki AI Gigafactory", slug="helsinki", city="Helsinki", country="FI")


@pytest.fixture
def member(hub):
    user = verified_user(name="Marie Member")
    MembershipFactory(user=user, hub=hub, role=Role.MEMBER)
    return user


@pytest.fixture
def staff(hub):
    """Hub staff with MFA already on (staff pages require it)."""
    user = verified_user(name="Sam Staff")
    MembershipFactory(user=user, hub=hub, role=Role.STAFF)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    enable_mfa(user)
    return user


@pytest.fixture
def other_staff(other_hub):
    user = verified_user(name="Olli Other")
    MembershipFactory(user=user, hub=other_hub, role=Role.STAFF)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    enable_mfa(user)
    return user


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client
