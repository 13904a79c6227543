import pytest

from gigafactory import events
from hubs.models import Role
from tests.conftest import enable_mfa, verified_user
from tests.factories import HubFactory, MembershipFactory


@pytest.fixture
def captured_events():
    """Events delivered (after commit) during the test."""
    seen = []

    def handler(event):
        seen.append(event)

    events.listen(handler)
    yield seen
    events._listeners.remove(handler)


@pytest.fixture
def lisbon(db):
    return HubFactory(name="Lisbon AI Gigafactory", slug="lisbon", city="Lisbon", country="PT")


@pytest.fixture
def zagreb(db):
    return HubFactory(name="Zagreb AI Gigafactory", slug="zagreb", city="Zagreb", country="HR")


def make_staff(hub, name="Hub Staff"):
    user = verified_user(name=name)
    MembershipFactory(user=user, hub=hub, role=Role.STAFF)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    enable_mfa(user)
    return user


def make_member(hub, name="Hub Member"):
    user = verified_user(name=name)
    MembershipFactory(user=user, hub=hub, role=Role.MEMBER)
    return user


@pytest.fixture
def lisbon_staff(lisbon):
    return make_staff(lisbon, "Rui Almeida")


@pytest.fixture
def zagreb_staff(zagreb):
    return make_staff(zagreb, "Ivana Horvat")
