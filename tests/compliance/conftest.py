import pytest

from hubs.models import Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory, OrganisationFactory

from .factories import AISystemFactory, BoardMemberFactory


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="Hospices Civils de Lyon", kind="hospital")


@pytest.fixture
def system(hub, member, organisation):
    return AISystemFactory(hub=hub, owner=member, organisation=organisation, name="Mammography triage")


@pytest.fixture
def board(hub):
    """A member of the hub's ethics board (not the system's owner)."""
    user = verified_user(name="Bea Board")
    MembershipFactory(user=user, hub=hub, role=Role.REVIEWER)
    BoardMemberFactory(hub=hub, user=user, title="Chair")
    return user
