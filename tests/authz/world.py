"""The people and objects the authorization matrix is checked against.

Two hubs, A ("Lyon", public) and B ("Helsinki", private: what it publishes is for its members),
each with the same shape of data, so that every row of the matrix can ask "may this role reach
the hub-A object? the hub-B object?". The world is built
once per test module inside a transaction that is rolled back at the end; each case runs in a
savepoint of its own (see ``test_access``), so a successful POST cannot change what the next
case sees.

Every app adds its objects with a builder registered with ``@builds``: it receives the world and
one ``Side`` (hub A or hub B) and sets attributes on the side. Builders run in registration
order, hubs and compute first.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils import timezone

ROLES = (
    "anon",
    "member_a",
    "member_b",
    "reviewer_a",
    "staff_a",
    "staff_b",
    "partner_a",
    "personal",
    "superuser",
)
"""``personal`` is a personal API key (write scope) of ``member_a``, scoped to hub A.
``partner_a`` is a write-scoped key of hub A's HPC centre (the provider of hub A's resources)."""

OBJECT_MODULES = (
    "objects",
    "objects_pilots",
    "objects_clinics",
    "objects_events",
    "objects_hubs_areas",
    "objects_compliance",
    "objects_assurance",
)
"""The builders' modules (``objects_<app>.py``), hubs and compute first: later apps link to them."""

_seq = itertools.count(1)
_builders: list[Callable[[World, Side], None]] = []


def builds(func):
    """Register ``func(world, side)``: it adds an app's objects for one hub."""
    _builders.append(func)
    return func


def unique(prefix: str) -> str:
    """A string that can only appear in a response if that object is shown."""
    return f"{prefix}-authz{next(_seq):04d}"


class Side(SimpleNamespace):
    """The objects of one hub: ``world.a`` or ``world.b``.

    An attribute is set once: two builders naming their objects alike (``draft``) would
    otherwise silently point one app's rows at the other app's object."""

    def __setattr__(self, name, value):
        if name in self.__dict__:
            raise AttributeError(f"side {self.__dict__.get('key')!r} already has {name!r}: name the object apart")
        super().__setattr__(name, value)


class World:
    def __init__(self):
        self.a = Side(key="a")
        self.b = Side(key="b")
        self.sessions: dict[str, str] = {}
        self.bearer: dict[str, str] = {}

    def side(self, key: str) -> Side:
        return self.a if key == "a" else self.b

    def login(self, role: str, user) -> None:
        """A database session for ``user``, as ``Client.force_login`` makes one."""
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        self.sessions[role] = session.session_key

    def client(self, role: str) -> tuple[Client, dict]:
        """A fresh client for ``role`` and the extra headers its requests carry."""
        client = Client()
        if role in self.sessions:
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[role]
        headers = {}
        if role in self.bearer:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.bearer[role]}"
        return client, headers


def build_world() -> World:
    # Imported here: the builders' modules import models, which needs the app registry.
    # Importing registers their builders, in this order.
    for module in OBJECT_MODULES:
        import_module(f"{__package__}.{module}")
    from .people import people

    world = World()
    people(world)
    for build in _builders:
        for side in (world.a, world.b):
            build(world, side)
    return world


def days(n: int) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=n)
